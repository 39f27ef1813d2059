import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from './backoff';
import { SyncClient } from './client';
import { Connection } from './connection';
import { fakeSockets } from './fakesocket';
import type { Committed, Op, Role, Snapshot } from './protocol';

const ME = 'u-me';
const OTHER = 'u-other';
const limits = { max_frame_bytes: 1 << 20, max_canvases: 16, ops_per_second: 2000, ops_burst: 5000, presence_interval_ms: 50, send_queue: 1024 };

function snapshot(seq: number): Snapshot {
  return { version: 1, id: 'c1', title: 'Plan', settings: {}, seq, nodes: [{ id: 'a', kind: 'text', x: 0, y: 0, w: 240, h: 120, z: 0, data: {} }], edges: [] };
}

async function setup(role: Role, seq = 5) {
  const fs = fakeSockets();
  const conn = new Connection({ url: 'ws://test/ws', getToken: async () => 'token', socketFactory: fs.factory, backoff: new Backoff(100, 1000, () => 0.5), pingIntervalMs: 600_000, pingTimeoutMs: 600_000 });
  const client = new SyncClient({ canvas: 'c1', conn, cbidPrefix: 't' });
  conn.start();
  await vi.advanceTimersByTimeAsync(0);
  const ws = fs.last();
  ws.open();
  ws.push({ type: 'hello', session: 's1', user: ME, limits });
  ws.push({ type: 'joined', canvas: 'c1', role, seq, snapshot: snapshot(seq) });
  return { ws, client };
}

const batch = (seq: number, ops: Op[], author = OTHER, cbid?: string): Committed => ({ seq, author, at: 1000 + seq, cbid, ops });
const thread: Op = { op: 'comment.add', id: 'c1', node: 'a', x: 240, y: 0, text: 'Why?' };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SyncClient and comments', () => {
  it("sends a viewer's comment-only batch and refuses a viewer's other changes", async () => {
    const { ws, client } = await setup('viewer');
    expect(client.canEdit).toBe(false);
    expect(client.canComment).toBe(true);
    expect(client.submit([{ op: 'node.update', id: 'a', set: { x: 5 } }])).toBeNull();
    expect(client.submit([thread, { op: 'node.delete', id: 'a' }])).toBeNull();
    const [cbid] = client.submit([thread])!;
    expect(ws.framesOf('ops')).toEqual([{ type: 'ops', canvas: 'c1', cbid, ops: [thread] }]);
    expect(client.doc.comments.get('c1')).toMatchObject({ author: ME, seq: 0 });
  });

  it('rebases a pending comment under a committed batch, and keeps the seq of the commit', async () => {
    const { ws, client } = await setup('editor');
    const [cbid] = client.submit([thread])!;
    // Someone else's thread commits first.
    ws.push({ type: 'changes', canvas: 'c1', batches: [batch(6, [{ op: 'comment.add', id: 'c0', x: 1, y: 2, text: 'first' }])] });
    expect(client.doc.comments.get('c0')).toMatchObject({ author: OTHER, seq: 6 });
    expect(client.doc.comments.get('c1')).toMatchObject({ author: ME, seq: 0 });
    ws.push({ type: 'changes', canvas: 'c1', batches: [batch(7, [thread], ME, cbid)] });
    expect(client.pending).toHaveLength(0);
    expect(client.doc.comments.get('c1')).toMatchObject({ author: ME, seq: 7, created_at: 1007 });
  });

  it('rolls a refused comment back', async () => {
    const { ws, client } = await setup('viewer');
    const [cbid] = client.submit([thread])!;
    ws.push({ type: 'reject', canvas: 'c1', cbid, code: 'forbidden', message: 'no' });
    expect(client.doc.comments.has('c1')).toBe(false);
  });
});
