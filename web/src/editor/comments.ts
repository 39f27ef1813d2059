// The pure part of comments in the studio: threads in the order the panel
// lists them, where a thread's pin goes, unread mentions, and the `@`
// mention picker's text handling (docs/comments.md).

import type { Doc } from '../sync/doc';
import type { CanvasComment, CanvasNode } from '../sync/protocol';

/** A thread with its replies, oldest first. */
export interface Thread {
  root: CanvasComment;
  replies: CanvasComment[];
}

/** The threads of a doc, open or resolved, newest first. */
export function threadsOf(doc: Doc, resolved: boolean): Thread[] {
  const out: Thread[] = [];
  for (const c of doc.comments.values()) {
    if (c.thread || !!c.resolved !== resolved) continue;
    out.push({ root: c, replies: doc.repliesOf(c.id) });
  }
  return out.sort((a, b) => b.root.created_at - a.root.created_at || (a.root.id < b.root.id ? 1 : -1));
}

/** Where a new thread placed on a card goes: the card's top-right corner. */
export function cardCorner(n: Pick<CanvasNode, 'x' | 'y' | 'w'>): { x: number; y: number } {
  return { x: Math.round(n.x + n.w), y: Math.round(n.y) };
}

/**
 * Where a thread's pin is drawn: at its card's top-right corner while the
 * card is there (following it as it moves), else at its point. card gives
 * the card's geometry as drawn now (a drag in progress), when known.
 */
export function pinPosition(c: CanvasComment, doc: Doc, card?: { x: number; y: number; w: number }): { x: number; y: number } {
  const n = c.node ? (card ?? doc.nodes.get(c.node)) : undefined;
  return n ? cardCorner(n) : { x: c.x, y: c.y };
}

/** Comments by others that mention me and were added after seq read. */
export function unreadMentions(doc: Doc, me: string, read: number): number {
  let n = 0;
  for (const c of doc.comments.values()) if (c.author !== me && c.seq > read && c.mentions?.includes(me)) n++;
  return n;
}

/** A canvas member as the mention picker offers them. */
export interface MentionCandidate {
  id: string;
  name: string;
}

/** The `@word` being typed right before the caret: its start and the query after `@`; null when there is none. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const m = /(^|\s)@([^\s@]{0,40})$/.exec(text.slice(0, caret));
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2] };
}

/** The members whose name starts (in any word) with the query, me left out, at most 8. */
export function matchMembers(members: MentionCandidate[], query: string, me: string): MentionCandidate[] {
  const q = query.toLocaleLowerCase();
  return members
    .filter((m) => m.id !== me && m.name.toLocaleLowerCase().split(/\s+/).concat(m.name.toLocaleLowerCase()).some((w) => w.startsWith(q)))
    .slice(0, 8);
}

/** Replaces the `@query` at start..caret with `@Name ` and returns the new text and caret. */
export function insertMention(text: string, start: number, caret: number, name: string): { text: string; caret: number } {
  const token = `@${name} `;
  return { text: text.slice(0, start) + token + text.slice(caret), caret: start + token.length };
}

/** The ids of the picked members whose `@Name` is still in the text, each once, in the order picked. */
export function mentionsIn(text: string, picked: MentionCandidate[]): string[] {
  const out: string[] = [];
  for (const m of picked) if (text.includes(`@${m.name}`) && !out.includes(m.id)) out.push(m.id);
  return out.slice(0, 20);
}

/** The text split into plain parts and `@Name` mentions of the given names, for display. */
export function mentionSpans(text: string, names: string[]): Array<{ text: string; mention: boolean }> {
  const tokens = [...new Set(names.filter(Boolean).map((n) => `@${n}`))].sort((a, b) => b.length - a.length);
  if (tokens.length === 0) return [{ text, mention: false }];
  const escaped = tokens.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const out: Array<{ text: string; mention: boolean }> = [];
  let last = 0;
  for (const m of text.matchAll(new RegExp(escaped.join('|'), 'g'))) {
    if (m.index > last) out.push({ text: text.slice(last, m.index), mention: false });
    out.push({ text: m[0], mention: true });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last), mention: false });
  return out;
}
