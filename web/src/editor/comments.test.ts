import { describe, expect, it } from 'vitest';
import { Doc } from '../sync/doc';
import { insertMention, matchMembers, mentionQuery, mentionSpans, mentionsIn, pinPosition, threadsOf, unreadMentions } from './comments';

const ME = 'u-me';
const ADA = { id: 'u-ada', name: 'Ada Lovelace' };
const BO = { id: 'u-bo', name: 'Bo' };

function doc(): Doc {
  const d = new Doc();
  d.apply([{ op: 'node.add', id: 'card', kind: 'text', x: 100, y: 50, w: 200, h: 80 }], ME);
  d.apply([{ op: 'comment.add', id: 't1', node: 'card', x: 300, y: 50, text: 'first' }], ME, 10, 2);
  d.apply([{ op: 'comment.add', id: 't2', x: -40, y: 7, text: '@Me look', mentions: [ME] }], ADA.id, 20, 3);
  d.apply([{ op: 'comment.add', id: 'r1', thread: 't1', text: 'reply', mentions: [ME] }], ADA.id, 30, 4);
  d.apply([{ op: 'comment.update', id: 't1', resolved: true }], ADA.id, 40, 5);
  return d;
}

describe('comments in the studio', () => {
  it('lists open and resolved threads apart, newest first, with their replies', () => {
    const d = doc();
    d.apply([{ op: 'comment.add', id: 't3', x: 0, y: 0, text: 'newer' }], ME, 50, 6);
    expect(threadsOf(d, false).map((t) => t.root.id)).toEqual(['t3', 't2']);
    const resolved = threadsOf(d, true);
    expect(resolved.map((t) => t.root.id)).toEqual(['t1']);
    expect(resolved[0].replies.map((r) => r.id)).toEqual(['r1']);
  });

  it("puts a card's pin at the card's top-right corner, following it, and a point's at the point", () => {
    const d = doc();
    expect(pinPosition(d.comments.get('t1')!, d)).toEqual({ x: 300, y: 50 });
    d.apply([{ op: 'node.update', id: 'card', set: { x: 400, y: 10 } }], ME);
    expect(pinPosition(d.comments.get('t1')!, d)).toEqual({ x: 600, y: 10 });
    expect(pinPosition(d.comments.get('t1')!, d, { x: 0, y: 0, w: 50 })).toEqual({ x: 50, y: 0 });
    expect(pinPosition(d.comments.get('t2')!, d)).toEqual({ x: -40, y: 7 });
    d.apply([{ op: 'node.delete', id: 'card' }], ME);
    expect(pinPosition(d.comments.get('t1')!, d)).toEqual({ x: 300, y: 50 });
  });

  it("counts others' mentions of me after the read marker", () => {
    const d = doc();
    expect(unreadMentions(d, ME, 0)).toBe(2);
    expect(unreadMentions(d, ME, 3)).toBe(1);
    expect(unreadMentions(d, ME, 4)).toBe(0);
    expect(unreadMentions(d, ADA.id, 0)).toBe(0);
  });

  it('finds the @query before the caret, and none inside a word or an e-mail address', () => {
    expect(mentionQuery('Hi @Ad', 6)).toEqual({ start: 3, query: 'Ad' });
    expect(mentionQuery('@', 1)).toEqual({ start: 0, query: '' });
    expect(mentionQuery('Hi @Ad there', 12)).toBeNull();
    expect(mentionQuery('mail ada@example.com', 20)).toBeNull();
  });

  it('offers members by the start of any word of their name, never me', () => {
    const ms = [ADA, BO, { id: ME, name: 'Me Myself' }];
    expect(matchMembers(ms, 'love', ME)).toEqual([ADA]);
    expect(matchMembers(ms, '', ME)).toEqual([ADA, BO]);
    expect(matchMembers(ms, 'me', ME)).toEqual([]);
  });

  it('writes a picked mention and keeps only the mentions still in the text', () => {
    const { text, caret } = insertMention('Ask @Ad now', 4, 7, ADA.name);
    expect(text).toBe('Ask @Ada Lovelace  now');
    expect(caret).toBe(18);
    expect(mentionsIn(text, [ADA, BO, ADA])).toEqual([ADA.id]);
    expect(mentionsIn('nobody', [ADA])).toEqual([]);
  });

  it('splits the text into plain parts and mentions', () => {
    expect(mentionSpans('Ask @Ada Lovelace and @Bo.', [ADA.name, BO.name])).toEqual([
      { text: 'Ask ', mention: false },
      { text: '@Ada Lovelace', mention: true },
      { text: ' and ', mention: false },
      { text: '@Bo', mention: true },
      { text: '.', mention: false },
    ]);
    expect(mentionSpans('plain', [])).toEqual([{ text: 'plain', mention: false }]);
  });
});
