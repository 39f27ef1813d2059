// A comment's text box with the `@` mention picker: typing `@` and the
// start of a member's name offers the canvas's members; picking one writes
// `@Name` and remembers their user id, sent as the comment's mentions while
// `@Name` is still in the text. Enter sends, Shift+Enter starts a new line.

import { useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { insertMention, matchMembers, mentionQuery, mentionsIn, type MentionCandidate } from './comments';

interface Props {
  members: MentionCandidate[];
  me: string;
  placeholder: string;
  submitLabel: string;
  initialText?: string;
  initialMentions?: MentionCandidate[];
  testId: string;
  autoFocus?: boolean;
  onSubmit(text: string, mentions: string[]): boolean;
  onCancel?(): void;
}

export function MentionInput({ members, me, placeholder, submitLabel, initialText = '', initialMentions = [], testId, autoFocus, onSubmit, onCancel }: Props) {
  const { t } = useTranslation();
  const [text, setText] = useState(initialText);
  const [picked, setPicked] = useState<MentionCandidate[]>(initialMentions);
  const [query, setQuery] = useState<{ start: number; query: string } | null>(null);
  const [active, setActive] = useState(0);
  const area = useRef<HTMLTextAreaElement>(null);
  const options = query ? matchMembers(members, query.query, me) : [];

  const follow = (value: string, caret: number) => {
    setText(value);
    setQuery(mentionQuery(value, caret));
    setActive(0);
  };

  const pick = (m: MentionCandidate) => {
    const el = area.current;
    if (!query || !el) return;
    const next = insertMention(text, query.start, el.selectionStart ?? text.length, m.name);
    setText(next.text);
    setPicked((p) => (p.some((x) => x.id === m.id) ? p : [...p, m]));
    setQuery(null);
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(next.caret, next.caret);
    });
  };

  const submit = () => {
    if (!text.trim()) return;
    if (onSubmit(text, mentionsIn(text, picked))) {
      setText('');
      setPicked([]);
      setQuery(null);
    }
  };

  return (
    <div className="mention-input">
      <textarea
        ref={area}
        value={text}
        rows={2}
        autoFocus={autoFocus}
        placeholder={placeholder}
        aria-label={placeholder}
        data-testid={testId}
        onChange={(e) => follow(e.target.value, e.target.selectionStart ?? e.target.value.length)}
        onKeyDown={(e) => {
          if (options.length > 0) {
            if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
              e.preventDefault();
              setActive((a) => (a + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length);
              return;
            }
            if (e.key === 'Enter' || e.key === 'Tab') {
              e.preventDefault();
              pick(options[Math.min(active, options.length - 1)]);
              return;
            }
            if (e.key === 'Escape') {
              e.preventDefault();
              e.stopPropagation();
              setQuery(null);
              return;
            }
          }
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            submit();
          } else if (e.key === 'Escape' && onCancel) {
            e.stopPropagation();
            onCancel();
          }
        }}
        onKeyUp={(e) => {
          if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') follow(text, e.currentTarget.selectionStart ?? text.length);
        }}
      />
      {options.length > 0 && (
        <ul className="mention-picker" role="listbox" aria-label={t('comments.mentionPicker')} data-testid="mention-picker">
          {options.map((m, i) => (
            <li
              key={m.id}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'active' : ''}
              data-testid="mention-option"
              onMouseDown={(e) => {
                e.preventDefault();
                pick(m);
              }}
            >
              {m.name}
            </li>
          ))}
        </ul>
      )}
      <div className="mention-actions">
        {onCancel && (
          <button type="button" onClick={onCancel}>
            {t('comments.cancel')}
          </button>
        )}
        <button type="button" className="primary" disabled={!text.trim()} onClick={submit} data-testid={`${testId}-submit`}>
          {submitLabel}
        </button>
      </div>
    </div>
  );
}
