import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from './backoff';
import { SyncClient } from './client';
import { Connection } from './connection';
import { fakeSockets, type FakeSocket } from './fakesocket';
import type { CanvasNode, Committed, Op, Snapshot } from './protocol';

const ME = 'u-me';
const OTHER = 'u-other';

function snapshot(seq: number, nodes: Snapshot['nodes'] = []): Snapshot {
  return { version: 1, id: 'c1', title: 'Plan', settings: {}, seq, nodes, edges: [] };
}

function node(id: string, x = 0, text = ''): CanvasNode {
  return { id, kind: 'text' as const, x, y: 0, w: 240, h: 120, z: 0, data: text ? { text } : {} };
}

const limits = { max_frame_bytes: 1 << 20, max_canvases: 16, ops_per_second: 2000, ops_burst: 5000, presence_interval_ms: 50, send_queue: 1024 };

/** Starts a client on canvas c1 and plays the server up to a joined snapshot at seq. */
async function setup(seq = 5, nodes: Snapshot['nodes'] = [node('a', 10, 'hi')]) {
  const fs = fakeSockets();
  const getToken = vi.fn(async (refresh: boolean) => (refresh ? 'fresh-token' : 'token'));
  const conn = new Connection({ url: 'ws://test/ws', getToken, socketFactory: fs.factory, backoff: new Backoff(100, 1000, () => 0.5), pingIntervalMs: 600_000, pingTimeoutMs: 600_000 });
  const client = new SyncClient({ canvas: 'c1', conn, cbidPrefix: 't', name: 'Me', color: '#f00' });
  const events = { rejects: [] as unknown[], confirms: [] as unknown[], changes: 0, fatal: [] as unknown[] };
  client.on('reject', (r) => events.rejects.push(r));
  client.on('confirm', (c) => events.confirms.push(c));
  client.on('change', () => events.changes++);
  client.on('fatal', (f) => events.fatal.push(f));
  conn.start();
  await vi.advanceTimersByTimeAsync(0);
  const ws = fs.last();
  serverAccepts(ws);
  ws.push({ type: 'joined', canvas: 'c1', role: 'editor', seq, snapshot: snapshot(seq, nodes) });
  return { fs, conn, client, events, getToken };
}

function serverAccepts(ws: FakeSocket) {
  ws.open();
  ws.push({ type: 'hello', session: 's1', user: ME, limits });
}

function batch(seq: number, ops: Op[], author = OTHER, cbid?: string): Committed {
  return { seq, author, at: 1000 + seq, cbid, ops };
}

const move = (id: string, x: number): Op => ({ op: 'node.update', id, set: { x } });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SyncClient', () => {
  it('authenticates with the first frame, then joins for a snapshot', async () => {
    const { fs, client } = await setup();
    const ws = fs.last();
    expect(ws.sent[0]).toEqual({ type: 'auth', token: 'token' });
    expect(ws.sent[1]).toEqual({ type: 'join', canvas: 'c1' });
    expect(client.status).toBe('connected');
    expect(client.seq).toBe(5);
    expect(client.role).toBe('editor');
    expect(client.doc.nodes.get('a')?.data.text).toBe('hi');
  });

  it('applies a local change at once and confirms it on ack and commit', async () => {
    const { fs, client, events } = await setup();
    const ws = fs.last();
    const [cbid] = client.submit([move('a', 50)])!;
    expect(client.doc.nodes.get('a')?.x).toBe(50);
    expect(ws.framesOf('ops')).toEqual([{ type: 'ops', canvas: 'c1', cbid, ops: [move('a', 50)] }]);
    expect(client.pending).toHaveLength(1);

    ws.push({ type: 'ack', canvas: 'c1', cbid, seq: 6 });
    expect(client.pending).toHaveLength(1); // the committed change is still to come
    ws.push({ type: 'changes', canvas: 'c1', batches: [batch(6, [move('a', 50)], ME, cbid)] });
    expect(client.pending).toHaveLength(0);
    expect(client.seq).toBe(6);
    expect(client.doc.nodes.get('a')?.x).toBe(50);
    expect(events.confirms).toEqual([{ cbid, seq: 6 }]);
  });

  it('accepts the commit before the ack and ignores the late ack', async () => {
    const { fs, client, events } = await setup();
    const ws = fs.last();
    const [cbid] = client.submit([move('a', 70)])!;
    ws.push({ type: 'changes', canvas: 'c1', batches: [batch(6, [move('a', 70)], ME, cbid)] });
    ws.push({ type: 'ack', canvas: 'c1', cbid, seq: 6 });
    ws.push({ type: 'reject', canvas: 'c1', cbid, code: 'duplicate_id', message: 'late' });
    expect(client.pending).toHaveLength(0);
    expect(events.rejects).toHaveLength(0);
    expect(client.doc.nodes.get('a')?.x).toBe(70);
  });

  it('rolls a rejected change back and reports it', async () => {
    const { fs, client, events } = await setup();
    const ws = fs.last();
    const [first] = client.submit([move('a', 20)])!;
    const [second] = client.submit([{ op: 'node.update', id: 'a', set: { 'data.text': 'bye' } }])!;
    expect(client.doc.nodes.get('a')?.data.text).toBe('bye');

    ws.push({ type: 'reject', canvas: 'c1', cbid: second, code: 'forbidden', message: 'viewers cannot change this canvas' });
    expect(client.doc.nodes.get('a')?.data.text).toBe('hi');
    expect(client.doc.nodes.get('a')?.x).toBe(20); // the other pending change stays
    expect(client.pending.map((p) => p.cbid)).toEqual([first]);
    expect(events.rejects).toEqual([
      { cbid: second, code: 'forbidden', message: 'viewers cannot change this canvas', ops: [{ op: 'node.update', id: 'a', set: { 'data.text': 'bye' } }] },
    ]);
  });

  it('applies others\' changes under pending local ones (server order wins)', async () => {
    const { fs, client } = await setup();
    const ws = fs.last();
    const [mine] = client.submit([move('a', 30)])!;
    // Someone else changes another property and the same one, committed first.
    ws.push({ type: 'changes', canvas: 'c1', batches: [batch(6, [{ op: 'node.update', id: 'a', set: { x: 99, 'data.text': 'theirs' } }])] });
    // Local x is still shown (pending on top); their text survives.
    expect(client.doc.nodes.get('a')?.x).toBe(30);
    expect(client.doc.nodes.get('a')?.data.text).toBe('theirs');
    ws.push({ type: 'changes', canvas: 'c1', batches: [batch(7, [move('a', 30)], ME, mine)] });
    expect(client.doc.nodes.get('a')).toMatchObject({ x: 30, data: { text: 'theirs' } });
    expect(client.pending).toHaveLength(0);
  });

  it('drops batches it has already applied (duplicate suppression)', async () => {
    const { fs, client, events } = await setup();
    const ws = fs.last();
    ws.push({ type: 'changes', canvas: 'c1', batches: [batch(6, [{ op: 'node.add', id: 'b', kind: 'note' }])] });
    const before = events.changes;
    // The same batch again, alone and overlapping a new one.
    ws.push({ type: 'changes', canvas: 'c1', batches: [batch(6, [{ op: 'node.add', id: 'b', kind: 'note' }])] });
    expect(events.changes).toBe(before);
    ws.push({
      type: 'changes',
      canvas: 'c1',
      batches: [batch(6, [{ op: 'node.add', id: 'b', kind: 'note' }]), batch(7, [move('b', 5)])],
    });
    expect(client.seq).toBe(7);
    expect(client.doc.nodes.get('b')?.x).toBe(5);
    expect(client.status).toBe('connected');
  });

  it('reconnects with backoff and rejoins with since, then sends what was queued offline', async () => {
    const { fs, client } = await setup();
    const ws1 = fs.last();
    ws1.push({ type: 'changes', canvas: 'c1', batches: [batch(6, [move('a', 1)])] });
    ws1.drop(1006);
    expect(client.status).toBe('reconnecting');

    // Offline edits are applied locally and queued.
    const [queued] = client.submit([move('a', 42)])!;
    expect(client.doc.nodes.get('a')?.x).toBe(42);
    expect(client.pending).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(49);
    expect(fs.sockets).toHaveLength(1); // backoff: 50..100 ms with this random
    await vi.advanceTimersByTimeAsync(100);
    expect(fs.sockets).toHaveLength(2);
    const ws2 = fs.last();
    serverAccepts(ws2);
    expect(ws2.framesOf('join')).toEqual([{ type: 'join', canvas: 'c1', since: 6 }]);

    // The catch-up: joined at seq 8, then batches 7..8. Nothing is sent before it is complete.
    ws2.push({ type: 'joined', canvas: 'c1', role: 'editor', seq: 8 });
    expect(ws2.framesOf('ops')).toHaveLength(0);
    ws2.push({
      type: 'changes',
      canvas: 'c1',
      batches: [batch(7, [{ op: 'node.update', id: 'a', set: { 'data.text': 'meanwhile' } }]), batch(8, [move('a', 3)])],
    });
    expect(ws2.framesOf('ops')).toEqual([{ type: 'ops', canvas: 'c1', cbid: queued, ops: [move('a', 42)] }]);
    expect(client.doc.nodes.get('a')).toMatchObject({ x: 42, data: { text: 'meanwhile' } });
    expect(client.status).toBe('connected');
  });

  it('does not resend a batch that the catch-up shows committed', async () => {
    const { fs, client, events } = await setup();
    const ws1 = fs.last();
    const [inflight] = client.submit([move('a', 11)])!;
    expect(ws1.framesOf('ops')).toHaveLength(1);
    ws1.drop(1006); // no ack: outcome unknown
    await vi.advanceTimersByTimeAsync(200);
    const ws2 = fs.last();
    serverAccepts(ws2);
    expect(ws2.framesOf('join')[0].since).toBe(5);
    ws2.push({ type: 'joined', canvas: 'c1', role: 'editor', seq: 6 });
    ws2.push({ type: 'changes', canvas: 'c1', batches: [batch(6, [move('a', 11)], ME, inflight)] });
    expect(ws2.framesOf('ops')).toHaveLength(0);
    expect(client.pending).toHaveLength(0);
    expect(events.confirms).toEqual([{ cbid: inflight, seq: 6 }]);
  });

  it('resends a batch that the catch-up does not show', async () => {
    const { fs, client } = await setup();
    const [lost] = client.submit([move('a', 12)])!;
    fs.last().drop(1006);
    await vi.advanceTimersByTimeAsync(200);
    const ws2 = fs.last();
    serverAccepts(ws2);
    ws2.push({ type: 'joined', canvas: 'c1', role: 'editor', seq: 5 });
    expect(ws2.framesOf('ops')).toEqual([{ type: 'ops', canvas: 'c1', cbid: lost, ops: [move('a', 12)] }]);
    expect(client.doc.nodes.get('a')?.x).toBe(12);
  });

  it('takes a snapshot on rejoin and keeps pending changes on top', async () => {
    const { fs, client } = await setup();
    fs.last().drop(1001);
    client.submit([{ op: 'node.update', id: 'a', set: { 'data.text': 'local' } }]);
    await vi.advanceTimersByTimeAsync(200);
    const ws2 = fs.last();
    serverAccepts(ws2);
    ws2.push({ type: 'joined', canvas: 'c1', role: 'editor', seq: 40, snapshot: snapshot(40, [node('a', 77, 'server'), node('z')]) });
    expect(client.seq).toBe(40);
    expect(client.doc.nodes.get('a')).toMatchObject({ x: 77, data: { text: 'local' } });
    expect(client.doc.nodes.has('z')).toBe(true);
    expect(ws2.framesOf('ops')).toHaveLength(1);
  });

  it('refreshes the token after the server closes with 4001', async () => {
    const { fs, getToken } = await setup();
    fs.last().drop(4001, 'token_expired');
    await vi.advanceTimersByTimeAsync(200);
    expect(getToken).toHaveBeenLastCalledWith(true);
    const ws2 = fs.last();
    ws2.open();
    expect(ws2.sent[0]).toEqual({ type: 'auth', token: 'fresh-token' });
  });

  it('rejoins for a snapshot when a gap shows up', async () => {
    const { fs, client } = await setup();
    const ws = fs.last();
    ws.push({ type: 'changes', canvas: 'c1', batches: [batch(9, [move('a', 1)])] });
    expect(client.seq).toBe(undefined);
    expect(ws.framesOf('join').at(-1)).toEqual({ type: 'join', canvas: 'c1' });
    expect(client.doc.nodes.get('a')?.x).toBe(10); // the gap batch was not applied
  });

  it('rejoins with since after outcome_unknown and resends only if not committed', async () => {
    const { fs, client } = await setup();
    const ws = fs.last();
    const [cbid] = client.submit([move('a', 5)])!;
    ws.push({ type: 'reject', canvas: 'c1', cbid, code: 'outcome_unknown', message: '?' });
    expect(ws.framesOf('join').at(-1)).toEqual({ type: 'join', canvas: 'c1', since: 5 });
    expect(client.doc.nodes.get('a')?.x).toBe(5);
    ws.push({ type: 'joined', canvas: 'c1', role: 'editor', seq: 5 });
    expect(ws.framesOf('ops').map((f) => f.cbid)).toEqual([cbid, cbid]);
  });

  it('stops on not_found and refuses changes from a viewer', async () => {
    const { fs, client, events } = await setup();
    const ws = fs.last();
    ws.push({ type: 'joined', canvas: 'c1', role: 'viewer', seq: 5 });
    expect(client.canEdit).toBe(false);
    expect(client.submit([move('a', 1)])).toBeNull();
    expect(ws.framesOf('ops')).toHaveLength(0);
    ws.push({ type: 'error', canvas: 'c1', code: 'not_found', message: 'canvas not found' });
    expect(events.fatal).toHaveLength(1);
  });

  it('tracks peers from presence and forgets them on leave and on disconnect', async () => {
    const { fs, client } = await setup();
    const ws = fs.last();
    ws.push({ type: 'presence', canvas: 'c1', session: 's2', user: OTHER, name: 'Bo', color: '#0f0', cursor: { x: 1, y: 2 }, selection: ['a'] });
    expect(client.peers.get('s2')).toMatchObject({ name: 'Bo', cursor: { x: 1, y: 2 }, selection: ['a'] });
    ws.push({ type: 'presence.leave', canvas: 'c1', session: 's2' });
    expect(client.peers.size).toBe(0);
    ws.push({ type: 'presence', canvas: 'c1', session: 's3', name: 'Cy' });
    ws.drop(1006);
    expect(client.peers.size).toBe(0);
  });

  it('throttles its own presence to the announced interval', async () => {
    const { fs, client } = await setup();
    const ws = fs.last();
    client.setPresence({ cursor: { x: 1, y: 1 } });
    client.setPresence({ cursor: { x: 2, y: 2 } });
    client.setPresence({ cursor: { x: 3, y: 3 } });
    expect(ws.framesOf('presence')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(60);
    const sent = ws.framesOf('presence');
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ cursor: { x: 3, y: 3 }, name: 'Me', color: '#f00' });
  });

  it('splits large changes into batches the server accepts', async () => {
    const { fs, client } = await setup(5, []);
    const ops: Op[] = Array.from({ length: 1200 }, (_, i) => ({ op: 'node.add', id: `n${i}`, kind: 'note' }));
    const cbids = client.submit(ops)!;
    expect(cbids).toHaveLength(3);
    expect(fs.last().framesOf('ops').map((f) => f.ops.length)).toEqual([500, 500, 200]);
    expect(client.doc.nodes.size).toBe(1200);
  });

  it('sends a batch again after unavailable, and rolls it back when it keeps failing', async () => {
    const { fs, client, events } = await setup();
    const ws = fs.last();
    const [cbid] = client.submit([move('a', 9)])!;
    ws.push({ type: 'reject', canvas: 'c1', cbid, code: 'unavailable', message: 'moving' });
    expect(client.doc.nodes.get('a')?.x).toBe(9); // still shown, not rolled back
    await vi.advanceTimersByTimeAsync(600);
    expect(ws.framesOf('ops').map((f) => f.cbid)).toEqual([cbid, cbid]);
    for (let i = 0; i < 3; i++) {
      ws.push({ type: 'reject', canvas: 'c1', cbid, code: 'unavailable', message: 'moving' });
      await vi.advanceTimersByTimeAsync(5000);
    }
    expect(events.rejects).toHaveLength(1);
    expect(client.doc.nodes.get('a')?.x).toBe(10);
  });

  it('streams an AI answer and ignores deltas that do not continue it', async () => {
    const { fs, client } = await setup();
    const ws = fs.last();
    const seen: string[] = [];
    client.on('ai', (id) => seen.push(id));
    ws.push({ type: 'ai.delta', canvas: 'c1', node: 'a', run: 'r1', offset: 0, delta: 'Héllo' });
    ws.push({ type: 'ai.delta', canvas: 'c1', node: 'a', run: 'r1', offset: 6, delta: ', world' });
    ws.push({ type: 'ai.delta', canvas: 'c1', node: 'a', run: 'r1', offset: 99, delta: 'lost' });
    expect(client.ai.get('a')).toMatchObject({ text: 'Héllo, world', done: false });
    ws.push({ type: 'ai.end', canvas: 'c1', node: 'a', run: 'r1', offset: 13 });
    expect(client.ai.get('a')?.done).toBe(true);
    ws.push({ type: 'ai.text', canvas: 'c1', node: 'a', run: 'r2', offset: 0, text: 'Again' });
    expect(client.ai.get('a')).toMatchObject({ run: 'r2', text: 'Again' });
    expect(seen).toEqual(['a', 'a', 'a', 'a']);
    client.runAI('a');
    expect(ws.framesOf('ops').at(-1)?.ops).toEqual([{ op: 'ai.run', id: 'a' }]);
  });

  it('drops a peer without news for a minute', async () => {
    const { fs, client } = await setup();
    fs.last().push({ type: 'presence', canvas: 'c1', session: 's9', name: 'Quiet', cursor: { x: 0, y: 0 } });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(client.peers.has('s9')).toBe(true);
    await vi.advanceTimersByTimeAsync(46_000);
    expect(client.peers.has('s9')).toBe(false);
  });
});
