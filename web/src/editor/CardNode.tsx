// A card on the canvas: text, note, AI prompt, image, file (the bodies of
// the last two are in FileCard.tsx). Double-click edits its text in place;
// typing is sent as it goes (debounced), one undo step per burst. An AI
// card adds its model picker, Run/Stop, its status, the answer (streaming
// while it runs), the tokens used and how many upstream cards were left out.

import { Handle, NodeResizer, Position, type Node, type NodeProps } from '@xyflow/react';
import { memo, useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { useTranslation } from 'react-i18next';
import type { SyncClient } from '../sync/client';
import type { CanvasNode } from '../sync/protocol';
import { capture } from '../undo/undo';
import { fileCardData } from '../api/files';
import { useEditor } from './context';
import { FileBody, ImageBody } from './FileCard';
import { ModelPicker } from './ModelPicker';

export interface CardData extends Record<string, unknown> {
  node: CanvasNode;
  /** Another person who has this card selected. */
  peer?: { color: string; name: string };
}

export type CardRFNode = Node<CardData, 'card'>;

const typingDelayMs = 250;

/** The data key holding a card's editable text. */
export function textField(kind: string): string {
  return kind === 'ai' ? 'prompt' : 'text';
}

/** A count from a card's data, if it is one. */
function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** The tokens of an AI card's last run, {input, output} in data.ai_usage. */
export function aiUsage(data: Record<string, unknown>): { input: number; output: number } | null {
  const u = data.ai_usage as { input?: unknown; output?: unknown } | undefined;
  if (!u || typeof u !== 'object') return null;
  const input = count(u.input);
  const output = count(u.output);
  return input === undefined || output === undefined ? null : { input, output };
}

/** How many upstream cards the last run left out to fit the context budget (data.ai_context.omitted). */
export function aiOmitted(data: Record<string, unknown>): number {
  const c = data.ai_context as { omitted?: unknown } | undefined;
  return (c && typeof c === 'object' && count(c.omitted)) || 0;
}

/** The streaming answer of an AI card, while one streams. */
function useAIStream(client: SyncClient, id: string) {
  const subscribe = useCallback((fn: () => void) => client.on('ai', (node) => node === id && fn()), [client, id]);
  return useSyncExternalStore(subscribe, () => client.ai.get(id));
}

function CardNodeView({ id, data, selected }: NodeProps<CardRFNode>) {
  const { t } = useTranslation();
  const { client, undo, canEdit, resizeBefore } = useEditor();
  const n = data.node;
  const field = textField(n.kind);
  const stored = typeof n.data[field] === 'string' ? (n.data[field] as string) : '';
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(stored);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (!editing) setDraft(stored);
  }, [stored, editing]);

  useEffect(() => {
    if (editing) area.current?.focus();
  }, [editing]);

  useEffect(() => {
    if (!canEdit) setEditing(false);
  }, [canEdit]);

  const commit = (text: string) => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    const current = client.doc.nodes.get(id)?.data[field];
    if (current === text || (current === undefined && text === '')) return;
    undo.apply([{ op: 'node.update', id, set: { [`data.${field}`]: text } }], `text:${id}`);
  };

  const onChange = (text: string) => {
    setDraft(text);
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => commit(text), typingDelayMs);
  };

  const stopEditing = () => {
    commit(draft);
    setEditing(false);
  };

  const placeholder =
    n.kind === 'ai' ? t('editor.aiPlaceholder') : n.kind === 'note' ? t('editor.notePlaceholder') : t('editor.textPlaceholder');
  const color = typeof n.data.color === 'string' ? n.data.color : undefined;
  const stream = useAIStream(client, id);
  const aiStatus = n.kind === 'ai' && typeof n.data.ai_status === 'string' ? n.data.ai_status : '';
  const running = aiStatus === 'running';
  const committed = n.kind === 'ai' && typeof n.data.answer === 'string' ? n.data.answer : '';
  // While a run streams, its text so far; the committed answer wins once it
  // is in (after a Stop, the streamed text stays until the partial answer lands).
  const live = stream && stream.run === n.data.ai_run ? stream.text : '';
  const answer = running || (aiStatus === 'cancelled' && !committed) ? live || committed : committed;
  const aiError = n.kind === 'ai' && typeof n.data.ai_error === 'string' ? n.data.ai_error : '';
  const usage = aiStatus === 'done' ? aiUsage(n.data) : null;
  // ai_context describes the current run (a run refused before it started leaves an older one).
  const omitted = aiStatus && aiStatus !== 'error' ? aiOmitted(n.data) : 0;
  const file = n.kind === 'image' || n.kind === 'file' ? fileCardData(n.data) : null;
  const textual = n.kind !== 'image' && n.kind !== 'file';

  return (
    <div
      className="card-frame"
      data-testid={`card-${id}`}
      data-kind={n.kind}
      onDoubleClick={(e) => {
        if (!canEdit || !textual) return;
        e.stopPropagation();
        setEditing(true);
      }}
    >
      <NodeResizer
        isVisible={selected && canEdit}
        minWidth={80}
        minHeight={n.kind === 'image' ? 24 : 48}
        keepAspectRatio={n.kind === 'image'}
        onResizeStart={() => {
          resizeBefore.current = capture([{ op: 'node.update', id }], client.doc);
        }}
        onResizeEnd={(_, p) => {
          const before = resizeBefore.current;
          resizeBefore.current = null;
          const set = { x: Math.round(p.x), y: Math.round(p.y), w: Math.max(1, Math.round(p.width)), h: Math.max(1, Math.round(p.height)) };
          const cbids = client.submit([{ op: 'node.update', id, set }]);
          if (cbids && before) undo.record(before, cbids);
        }}
      />
      <div
        className={`card card-${n.kind}${selected ? ' is-selected' : ''}${data.peer ? ' has-peer' : ''}`}
        style={{ ...(data.peer ? { boxShadow: `0 0 0 3px ${data.peer.color}` } : {}), ...(color ? { background: color } : {}) }}
      >
        {data.peer && (
          <span className="peer-tag" style={{ background: data.peer.color }}>
            {data.peer.name}
          </span>
        )}
        <div className="card-kind">{n.kind === 'ai' ? t('editor.aiLabel') : t(`editor.kind.${n.kind}`)}</div>
        {!textual ? (
          file ? (
            n.kind === 'image' ? (
              <ImageBody canvasId={client.canvas} file={file} />
            ) : (
              <FileBody canvasId={client.canvas} file={file} />
            )
          ) : (
            <div className="card-text is-empty">{t('editor.noFile')}</div>
          )
        ) : editing ? (
          <textarea
            ref={area}
            className="card-edit nodrag nowheel nopan"
            value={draft}
            maxLength={20000}
            placeholder={placeholder}
            aria-label={placeholder}
            onChange={(e) => onChange(e.target.value)}
            onBlur={stopEditing}
            onKeyDown={(e) => {
              e.stopPropagation();
              if (e.key === 'Escape' || (e.key === 'Enter' && (e.ctrlKey || e.metaKey))) (e.target as HTMLTextAreaElement).blur();
            }}
          />
        ) : (
          <div className={`card-text${draft ? '' : ' is-empty'}`} data-testid="card-text">
            {draft || placeholder}
          </div>
        )}
        {n.kind === 'ai' && (
          <div className="card-ai-bar" onDoubleClick={(e) => e.stopPropagation()}>
            <button
              type="button"
              className="nodrag"
              disabled={!canEdit || (!running && !(draft || stored).trim())}
              onClick={(e) => {
                e.stopPropagation();
                client.runAI(id, running);
              }}
              data-testid="ai-run"
            >
              {running ? t('editor.aiStop') : t('editor.aiRun')}
            </button>
            <ModelPicker node={n} running={running} />
            {aiStatus && (
              <span className={`ai-status ai-${aiStatus}`} data-testid="ai-status" data-status={aiStatus}>
                {t(`editor.aiStatus.${aiStatus}`, { defaultValue: aiStatus })}
              </span>
            )}
          </div>
        )}
        {usage || omitted > 0 ? (
          <div className="card-ai-meta">
            {usage && (
              <span data-testid="ai-usage" title={t('editor.aiUsageHint')}>
                {t('editor.aiUsage', { input: usage.input, output: usage.output })}
              </span>
            )}
            {omitted > 0 && <span data-testid="ai-omitted">{t('editor.aiOmitted', { count: omitted })}</span>}
          </div>
        ) : null}
        {answer || aiError ? (
          <div className="card-answer nowheel" data-status={aiStatus} data-testid="ai-answer">
            {answer || aiError}
          </div>
        ) : null}
      </div>
      {/* One handle per side; the canvas connects them loosely (any to any)
          and draws each edge between the sides that face each other. */}
      <Handle type="source" id="top" position={Position.Top} isConnectable={canEdit} />
      <Handle type="source" id="right" position={Position.Right} isConnectable={canEdit} />
      <Handle type="source" id="bottom" position={Position.Bottom} isConnectable={canEdit} />
      <Handle type="source" id="left" position={Position.Left} isConnectable={canEdit} />
    </div>
  );
}

export const CardNode = memo(CardNodeView);
