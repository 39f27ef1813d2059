import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { ReactFlowProvider } from '@xyflow/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import '../i18n';
import { i18n } from '../i18n';
import type { SyncClient } from '../sync/client';
import { Doc } from '../sync/doc';
import type { Op } from '../sync/protocol';
import { CommentsPanel } from './CommentsPanel';
import type { CommentsState } from './useComments';

const ME = 'u1';
const BO = 'u2';

/** A canvas with a card, Bo's thread on it with my reply, and my resolved thread on a point. */
function canvas(): Doc {
  const d = new Doc();
  d.apply([{ op: 'node.add', id: 'card', kind: 'text', x: 0, y: 0 }], ME, 1, 1);
  d.apply([{ op: 'comment.add', id: 't1', node: 'card', x: 240, y: 0, text: 'Is this right, @Ada?', mentions: [ME] }], BO, 10, 2);
  d.apply([{ op: 'comment.add', id: 'r1', thread: 't1', text: 'Yes.' }], ME, 20, 3);
  d.apply([{ op: 'comment.add', id: 't2', x: 5, y: 5, text: 'Done here' }, { op: 'comment.update', id: 't2', resolved: true }], ME, 30, 4);
  return d;
}

function state(doc: Doc, over: Partial<CommentsState> = {}): CommentsState & { sent: Op[][] } {
  const sent: Op[][] = [];
  const names = new Map([
    [ME, 'Ada'],
    [BO, 'Bo Builder'],
  ]);
  return {
    client: { doc } as unknown as SyncClient,
    me: ME,
    open: true,
    setOpen: vi.fn(),
    showResolved: false,
    setShowResolved: vi.fn(),
    placing: false,
    setPlacing: vi.fn(),
    draft: null,
    startDraft: vi.fn(),
    cancelDraft: vi.fn(),
    selected: null,
    select: vi.fn(),
    members: [...names].map(([id, name]) => ({ id, name })),
    nameOf: (id) => names.get(id) ?? '',
    unread: 0,
    error: '',
    send: (ops) => {
      sent.push(ops);
      return true;
    },
    addThread: vi.fn(() => 'new'),
    reply: vi.fn(() => true),
    sent,
    ...over,
  };
}

function show(s: CommentsState) {
  return render(
    <ReactFlowProvider>
      <CommentsPanel comments={s} version={0} />
    </ReactFlowProvider>,
  );
}

beforeEach(async () => {
  await i18n.changeLanguage('en');
});
afterEach(cleanup);

describe('CommentsPanel', () => {
  it('lists the open threads with their replies, edit and delete on my comments only', () => {
    const s = state(canvas());
    show(s);
    const threads = screen.getAllByTestId('comment-thread');
    expect(threads.map((t) => t.dataset.thread)).toEqual(['t1']);
    expect(screen.getByTestId('comments-tab-open').textContent).toBe('Open (1)');
    expect(screen.getByTestId('comments-tab-resolved').textContent).toBe('Resolved (1)');
    const [bo, mine] = within(threads[0]).getAllByTestId('comment');
    expect(bo.dataset.comment).toBe('t1');
    expect(within(bo).queryByTestId('comment-edit')).toBeNull();
    expect(within(bo).queryByTestId('comment-delete')).toBeNull();
    expect(within(mine).getByTestId('comment-edit')).toBeTruthy();
    expect(within(mine).getByTestId('comment-delete')).toBeTruthy();
    expect(within(bo).getByText('@Ada').className).toBe('comment-mention');
  });

  it('resolves a thread, and edits my reply with its mentions', () => {
    const s = state(canvas());
    show(s);
    fireEvent.click(screen.getByTestId('comment-resolve'));
    expect(s.sent.at(-1)).toEqual([{ op: 'comment.update', id: 't1', resolved: true }]);
    fireEvent.click(screen.getByTestId('comment-edit'));
    fireEvent.change(screen.getByTestId('comment-edit-text'), { target: { value: 'Yes, checked.' } });
    fireEvent.click(screen.getByTestId('comment-edit-text-submit'));
    expect(s.sent.at(-1)).toEqual([{ op: 'comment.update', id: 'r1', text: 'Yes, checked.', mentions: [] }]);
  });

  it('shows the resolved threads with reopen', () => {
    const s = state(canvas(), { showResolved: true });
    show(s);
    expect(screen.getAllByTestId('comment-thread').map((t) => t.dataset.thread)).toEqual(['t2']);
    fireEvent.click(screen.getByTestId('comment-reopen'));
    expect(s.sent.at(-1)).toEqual([{ op: 'comment.update', id: 't2', resolved: false }]);
  });

  it('offers members after @ and sends the picked ones as mentions', () => {
    const s = state(canvas());
    show(s);
    const box = screen.getByTestId('comment-reply') as HTMLTextAreaElement;
    fireEvent.change(box, { target: { value: 'Ask @bo', selectionStart: 7 } });
    const options = screen.getAllByTestId('mention-option');
    expect(options.map((o) => o.textContent)).toEqual(['Bo Builder']);
    fireEvent.mouseDown(options[0]);
    expect(box.value).toBe('Ask @Bo Builder ');
    fireEvent.click(screen.getByTestId('comment-reply-submit'));
    expect(s.reply).toHaveBeenCalledWith('t1', 'Ask @Bo Builder ', [BO]);
  });

  it('starts a thread from the draft', () => {
    const s = state(canvas(), { draft: { node: 'card', x: 240, y: 0 } });
    show(s);
    expect(screen.getByTestId('comment-draft').textContent).toContain('On a card');
    fireEvent.change(screen.getByTestId('comment-new'), { target: { value: 'New thought' } });
    fireEvent.keyDown(screen.getByTestId('comment-new'), { key: 'Enter' });
    expect(s.addThread).toHaveBeenCalledWith('New thought', []);
  });
});
