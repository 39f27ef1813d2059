// Keeping an open canvas on the device as it changes, and starting from
// what was kept: see docs/offline.md.
//
// The pending batches are written the moment they change (a new batch, a
// confirmed or refused one), so a reload right after an edit loses
// nothing; the committed snapshot is written at most once per throttle
// interval, with the pending batches of that moment.

import type { SyncClient } from '../sync/client';
import type { LocalStore, SavedBatch } from './store';

export interface PersistOptions {
  /** The signed-in user; the data is kept per user and canvas. */
  user: string;
  /** At most one snapshot write per this many ms; default 1000. */
  snapshotEveryMs?: number;
  /** Called with a write that failed (quota, private mode); default: ignored. */
  onError?: (err: unknown) => void;
}

/** What persist returns: flush() writes what is due now; stop() does that and stops listening. */
export interface Persisting {
  flush(): Promise<void>;
  stop(): Promise<void>;
}

function pendingOf(client: SyncClient): SavedBatch[] {
  return client.pending.map((p) => ({ cbid: p.cbid, ops: p.ops }));
}

/** Loads what the device kept of the canvas into the client (before it joins); true when there was something. */
export async function restore(client: SyncClient, store: LocalStore, user: string): Promise<boolean> {
  const saved = await store.load(user, client.canvas);
  if (!saved) return false;
  client.restore({ seq: saved.seq, role: saved.role, snapshot: saved.snapshot, pending: saved.pending });
  return true;
}

/** Writes the client's canvas to the store as it changes. */
export function persist(client: SyncClient, store: LocalStore, opts: PersistOptions): Persisting {
  const every = opts.snapshotEveryMs ?? 1000;
  const onError = opts.onError ?? (() => undefined);
  const { user } = opts;
  const canvas = client.canvas;
  let lastPending = JSON.stringify(client.pending.map((p) => p.cbid));
  let snapshotDue = false;
  let lastSnapshotAt = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  // Writes are chained so that they reach IndexedDB in the order made.
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (write: () => Promise<void>) => {
    chain = chain.then(write).catch(onError);
    return chain;
  };

  const writePendingIfChanged = () => {
    const ids = JSON.stringify(client.pending.map((p) => p.cbid));
    if (ids === lastPending) return;
    lastPending = ids;
    const batches = pendingOf(client);
    void enqueue(() => store.savePending(user, canvas, batches));
  };

  const writeSnapshot = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!snapshotDue) return chain;
    const c = client.committed();
    if (!c) return chain;
    snapshotDue = false;
    lastSnapshotAt = Date.now();
    const batches = pendingOf(client);
    lastPending = JSON.stringify(batches.map((b) => b.cbid));
    const snap = { seq: c.seq, role: client.role, snapshot: c.snapshot, savedAt: lastSnapshotAt };
    return enqueue(() => store.saveSnapshot(user, canvas, snap, batches));
  };

  const scheduleSnapshot = () => {
    snapshotDue = true;
    if (timer || stopped) return;
    const wait = Math.max(0, lastSnapshotAt + every - Date.now());
    timer = setTimeout(() => void writeSnapshot(), wait);
  };

  let lastSeq = client.seq;
  const offs = [
    client.on('change', ({ remote }) => {
      writePendingIfChanged();
      if (remote || client.seq !== lastSeq) {
        lastSeq = client.seq;
        scheduleSnapshot();
      }
    }),
    client.on('joined', () => scheduleSnapshot()),
    client.on('fatal', () => {
      // The canvas is gone or no longer ours: keep nothing of it.
      snapshotDue = false;
      void enqueue(() => store.forget(user, canvas));
    }),
  ];

  return {
    flush: () => writeSnapshot(),
    async stop() {
      if (stopped) return chain;
      for (const off of offs) off();
      await writeSnapshot();
      stopped = true;
      return chain;
    },
  };
}
