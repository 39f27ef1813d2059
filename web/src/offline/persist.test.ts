import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from '../sync/backoff';
import { SyncClient } from '../sync/client';
import { Connection } from '../sync/connection';
import { fakeSockets, type FakeSocket } from '../sync/fakesocket';
import type { CanvasNode, Op, Snapshot } from '../sync/protocol';
import { persist, restore, type Persisting } from './persist';
import { LocalStore, type SavedSnapshot } from './store';

const ME = 'u-me';
const OTHER = 'u-other';
const limits = { max_frame_bytes: 1 << 20, max_canvases: 16, ops_per_second: 2000, ops_burst: 5000, presence_interval_ms: 50, send_queue: 1024 };

function node(id: string, x = 0, text = ''): CanvasNode {
  return { id, kind: 'text' as const, x, y: 0, w: 240, h: 120, z: 0, data: text ? { text } : {} };
}

function snapshot(seq: number, nodes: CanvasNode[]): Snapshot {
  return { version: 1, id: 'c1', title: 'Plan', settings: { grid: true }, seq, nodes, edges: [], comments: [] };
}

const add = (id: string, text: string): Op => ({ op: 'node.add', id, kind: 'text', x: 0, y: 0, data: { text } });
const setText = (id: string, text: string): Op => ({ op: 'node.update', id, set: { 'data.text': text } });

let dbs = 0;
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newStore(): LocalStore {
  const s = new LocalStore(`sker-offline-test-${++dbs}`, indexedDB);
  cleanups.push(() => s.close());
  return s;
}

/** A client on canvas c1 over a fake socket; the test plays the server. */
function newClient(prefix: string) {
  const fs = fakeSockets();
  const conn = new Connection({
    url: 'ws://test/ws',
    getToken: async () => 'token',
    socketFactory: fs.factory,
    backoff: new Backoff(60_000, 60_000, () => 0.5),
    pingIntervalMs: 600_000,
    pingTimeoutMs: 600_000,
  });
  const client = new SyncClient({ canvas: 'c1', conn, cbidPrefix: prefix, user: ME });
  const rejects: string[] = [];
  client.on('reject', (r) => rejects.push(r.cbid));
  cleanups.push(() => {
    client.close();
    conn.stop();
  });
  return { fs, conn, client, rejects };
}

/** Starts the connection and answers its auth; returns the socket. */
async function connect(conn: Connection, fs: ReturnType<typeof fakeSockets>): Promise<FakeSocket> {
  conn.start();
  await vi.waitFor(() => expect(fs.sockets).toHaveLength(1));
  const ws = fs.last();
  ws.open();
  ws.push({ type: 'hello', session: 's1', user: ME, limits });
  return ws;
}

function track(p: Persisting): Persisting {
  cleanups.push(() => p.stop());
  return p;
}

/** A first page: joined at seq 5 with cards a and b, then the server goes away and two edits are made. */
async function editOffline(store: LocalStore) {
  const { fs, conn, client } = newClient('first');
  const saving = track(persist(client, store, { user: ME, snapshotEveryMs: 10 }));
  const ws = await connect(conn, fs);
  ws.push({ type: 'joined', canvas: 'c1', role: 'editor', seq: 5, snapshot: snapshot(5, [node('a', 10, 'hi'), node('b', 20, 'there')]) });
  await saving.flush();
  ws.drop();
  const cbids = [...client.submit([add('n1', 'new one')])!, ...client.submit([setText('a', 'changed')])!];
  return { client, saving, cbids };
}

describe('LocalStore', () => {
  it('keeps a canvas per user and canvas, and forgets a user on sign-out', async () => {
    const store = newStore();
    const snap = (seq: number): SavedSnapshot => ({ seq, role: 'editor', snapshot: snapshot(seq, [node('a')]), savedAt: 1 });
    expect(await store.load(ME, 'c1')).toBeNull();
    await store.saveSnapshot(ME, 'c1', snap(3), [{ cbid: 'x-1', ops: [add('n', 't')] }]);
    await store.saveSnapshot(ME, 'c2', snap(4), []);
    await store.saveSnapshot(OTHER, 'c1', snap(9), []);
    await store.savePending(ME, 'c1', [
      { cbid: 'x-1', ops: [add('n', 't')] },
      { cbid: 'x-2', ops: [setText('n', 'u')] },
    ]);

    const got = await store.load(ME, 'c1');
    expect(got?.seq).toBe(3);
    expect(got?.snapshot.nodes.map((n) => n.id)).toEqual(['a']);
    expect(got?.pending.map((b) => b.cbid)).toEqual(['x-1', 'x-2']);
    expect((await store.load(OTHER, 'c1'))?.seq).toBe(9);

    await store.clearUser(ME);
    expect(await store.load(ME, 'c1')).toBeNull();
    expect(await store.load(ME, 'c2')).toBeNull();
    expect((await store.load(OTHER, 'c1'))?.seq).toBe(9);
  });
});

describe('persist and restore', () => {
  it('writes each pending batch at once, and the snapshot without them', async () => {
    const store = newStore();
    const { client, cbids } = await editOffline(store);
    // No flush: the pending batches are written as they are made.
    await vi.waitFor(async () => expect((await store.load(ME, 'c1'))?.pending.map((b) => b.cbid)).toEqual(cbids));
    const saved = (await store.load(ME, 'c1'))!;
    expect(saved.seq).toBe(5);
    expect(saved.role).toBe('editor');
    expect(saved.snapshot.title).toBe('Plan');
    expect(saved.snapshot.settings).toEqual({ grid: true });
    // The committed state: no n1, a's text as committed.
    expect(saved.snapshot.nodes.map((n) => n.id).sort()).toEqual(['a', 'b']);
    expect(saved.snapshot.nodes.find((n) => n.id === 'a')?.data.text).toBe('hi');
    expect(saved.pending[1].ops).toEqual([setText('a', 'changed')]);

    // A rename waiting too: the committed state keeps the title, the card
    // texts and the cards as committed, and the doc stays as it shows.
    client.submit([{ op: 'canvas.update', title: 'Renamed' }]);
    const c = client.committed()!;
    expect(c.seq).toBe(5);
    expect(c.snapshot.title).toBe('Plan');
    expect(c.snapshot.nodes.map((n) => n.id).sort()).toEqual(['a', 'b']);
    expect(c.snapshot.nodes.find((n) => n.id === 'a')?.data.text).toBe('hi');
    expect(client.doc.title).toBe('Renamed');
    expect(client.doc.nodes.get('a')?.data.text).toBe('changed');
    expect(client.doc.nodes.has('n1')).toBe(true);
    await vi.waitFor(async () => expect((await store.load(ME, 'c1'))?.pending).toHaveLength(3));
  });

  it('a reload shows the kept canvas with its edits, joins from its seq and sends the batches again with their cbids, rebased', async () => {
    const store = newStore();
    const first = await editOffline(store);
    await first.saving.stop();

    const { fs, conn, client } = newClient('second');
    expect(await restore(client, store, ME)).toBe(true);
    // Shown at once, before any server: the committed canvas plus the edits.
    expect(client.seq).toBe(5);
    expect(client.canEdit).toBe(true);
    expect(client.doc.nodes.get('n1')?.data.text).toBe('new one');
    expect(client.doc.nodes.get('a')?.data.text).toBe('changed');
    expect(client.pending.map((p) => p.cbid)).toEqual(first.cbids);
    track(persist(client, store, { user: ME, snapshotEveryMs: 10 }));

    const ws = await connect(conn, fs);
    expect(ws.framesOf('join')).toEqual([{ type: 'join', canvas: 'c1', since: 5 }]);
    // Someone moved b meanwhile: the catch-up first, then our batches.
    ws.push({ type: 'joined', canvas: 'c1', role: 'editor', seq: 6 });
    expect(ws.framesOf('ops')).toHaveLength(0);
    ws.push({ type: 'changes', canvas: 'c1', batches: [{ seq: 6, author: OTHER, at: 1006, ops: [{ op: 'node.update', id: 'b', set: { x: 99 } }] }] });
    expect(ws.framesOf('ops').map((f) => f.cbid)).toEqual(first.cbids);
    expect(client.doc.nodes.get('b')?.x).toBe(99);
    expect(client.doc.nodes.get('a')?.data.text).toBe('changed');

    // Both commit: nothing is left waiting, here or on the device.
    ws.push({
      type: 'changes',
      canvas: 'c1',
      batches: [
        { seq: 7, author: ME, at: 1007, cbid: first.cbids[0], ops: [add('n1', 'new one')] },
        { seq: 8, author: ME, at: 1008, cbid: first.cbids[1], ops: [setText('a', 'changed')] },
      ],
    });
    expect(client.pending).toHaveLength(0);
    await vi.waitFor(async () => {
      const saved = await store.load(ME, 'c1');
      expect(saved?.seq).toBe(8);
      expect(saved?.pending).toEqual([]);
    });
    const saved = (await store.load(ME, 'c1'))!;
    expect(saved.snapshot.nodes.map((n) => n.id).sort()).toEqual(['a', 'b', 'n1']);
  });

  it('a kept batch the server refuses after the reload is rolled back and forgotten', async () => {
    const store = newStore();
    const first = await editOffline(store);
    await first.saving.stop();

    const { fs, conn, client, rejects } = newClient('second');
    await restore(client, store, ME);
    track(persist(client, store, { user: ME, snapshotEveryMs: 10 }));
    const ws = await connect(conn, fs);
    // Card a was deleted meanwhile: our text change no longer fits.
    ws.push({ type: 'joined', canvas: 'c1', role: 'editor', seq: 6 });
    ws.push({ type: 'changes', canvas: 'c1', batches: [{ seq: 6, author: OTHER, at: 1006, ops: [{ op: 'node.delete', id: 'a' }] }] });
    ws.push({ type: 'reject', canvas: 'c1', cbid: first.cbids[1], code: 'unknown_id', message: 'no node "a"' });
    expect(rejects).toEqual([first.cbids[1]]);
    expect(client.pending.map((p) => p.cbid)).toEqual([first.cbids[0]]);
    expect(client.doc.nodes.has('a')).toBe(false);
    await vi.waitFor(async () => expect((await store.load(ME, 'c1'))?.pending.map((b) => b.cbid)).toEqual([first.cbids[0]]));
  });

  it('restores nothing for another user, and nothing once the canvas is joined', async () => {
    const store = newStore();
    const first = await editOffline(store);
    await first.saving.stop();

    const other = newClient('other');
    expect(await restore(other.client, store, OTHER)).toBe(false);
    expect(other.client.seq).toBeUndefined();

    const late = newClient('late');
    const ws = await connect(late.conn, late.fs);
    ws.push({ type: 'joined', canvas: 'c1', role: 'viewer', seq: 9, snapshot: snapshot(9, [node('z')]) });
    await restore(late.client, store, ME);
    expect(late.client.seq).toBe(9);
    expect(late.client.pending).toHaveLength(0);
    expect([...late.client.doc.nodes.keys()]).toEqual(['z']);
  });
});
