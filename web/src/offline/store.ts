// LocalStore keeps, in the browser's IndexedDB, what the studio needs to
// open a canvas without the server: its last committed snapshot and the
// batches not yet committed, per signed-in user and canvas.
//
// Two object stores, both keyed by [user, canvas]: "snapshots" (written
// now and then, with the pending batches of that moment in the same
// transaction) and "pending" (written at once whenever the pending batches
// change). Transactions on the same stores run in the order they were
// made, so the pending batches read back always belong on top of the
// snapshot read back (or of a later seq, which the catch-up covers).

import type { Op, Role, Snapshot } from '../sync/protocol';

/** The committed state of a canvas at seq. */
export interface SavedSnapshot {
  seq: number;
  role: Role | null;
  snapshot: Snapshot;
  savedAt: number;
}

/** A batch not confirmed yet, as sent: its cbid and its ops. */
export interface SavedBatch {
  cbid: string;
  ops: Op[];
}

/** What a canvas left on this device. */
export interface SavedCanvas extends SavedSnapshot {
  pending: SavedBatch[];
}

const dbVersion = 1;
const snapshots = 'snapshots';
const pendingStore = 'pending';

/** The database name the studio uses. */
export const defaultDBName = 'sker-offline';

export class LocalStore {
  private db: Promise<IDBDatabase> | null = null;

  constructor(
    private readonly name = defaultDBName,
    private readonly factory: IDBFactory | undefined = globalThis.indexedDB,
  ) {}

  /** Whether this browser has IndexedDB at all. */
  get available(): boolean {
    return this.factory !== undefined;
  }

  private open(): Promise<IDBDatabase> {
    if (!this.db) {
      const factory = this.factory;
      this.db = new Promise<IDBDatabase>((resolve, reject) => {
        if (!factory) return reject(new Error('offline store: no IndexedDB in this browser'));
        const req = factory.open(this.name, dbVersion);
        req.onupgradeneeded = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains(snapshots)) db.createObjectStore(snapshots);
          if (!db.objectStoreNames.contains(pendingStore)) db.createObjectStore(pendingStore);
        };
        req.onsuccess = () => {
          const db = req.result;
          // Another tab upgrading (or deleting) the database: let it.
          db.onversionchange = () => {
            db.close();
            this.db = null;
          };
          resolve(db);
        };
        req.onerror = () => reject(req.error ?? new Error(`offline store: cannot open ${this.name}`));
        req.onblocked = () => reject(new Error(`offline store: opening ${this.name} is blocked by another tab`));
      });
      this.db.catch(() => {
        this.db = null;
      });
    }
    return this.db;
  }

  /** Runs fn in one transaction over both stores; resolves when it is committed. */
  private async tx<T>(mode: IDBTransactionMode, fn: (snaps: IDBObjectStore, pend: IDBObjectStore) => IDBRequest<T> | void): Promise<T | undefined> {
    const db = await this.open();
    return new Promise<T | undefined>((resolve, reject) => {
      const t = db.transaction([snapshots, pendingStore], mode);
      const req = fn(t.objectStore(snapshots), t.objectStore(pendingStore));
      t.oncomplete = () => resolve(req ? req.result : undefined);
      t.onerror = () => reject(t.error ?? new Error('offline store: transaction failed'));
      t.onabort = () => reject(t.error ?? new Error('offline store: transaction aborted'));
    });
  }

  /** What was kept of a canvas for a user; null when nothing (or no snapshot). */
  async load(user: string, canvas: string): Promise<SavedCanvas | null> {
    const key = [user, canvas];
    let snap: SavedSnapshot | undefined;
    let pend: SavedBatch[] | undefined;
    await this.tx('readonly', (s, p) => {
      const a = s.get(key);
      const b = p.get(key);
      a.onsuccess = () => (snap = a.result as SavedSnapshot | undefined);
      b.onsuccess = () => (pend = b.result as SavedBatch[] | undefined);
    });
    if (!snap) return null;
    return { ...snap, pending: pend ?? [] };
  }

  /** Keeps the committed state and the pending batches of this moment, together. */
  async saveSnapshot(user: string, canvas: string, snap: SavedSnapshot, pending: SavedBatch[]): Promise<void> {
    const key = [user, canvas];
    await this.tx('readwrite', (s, p) => {
      s.put(snap, key);
      p.put(pending, key);
    });
  }

  /** Keeps the pending batches (in order). */
  async savePending(user: string, canvas: string, pending: SavedBatch[]): Promise<void> {
    await this.tx('readwrite', (_s, p) => {
      p.put(pending, [user, canvas]);
    });
  }

  /** Forgets one canvas of a user (it is gone, or no longer theirs). */
  async forget(user: string, canvas: string): Promise<void> {
    const key = [user, canvas];
    await this.tx('readwrite', (s, p) => {
      s.delete(key);
      p.delete(key);
    });
  }

  /** Forgets every canvas of a user: on sign-out. */
  async clearUser(user: string): Promise<void> {
    // Array keys sort element by element; every [user, canvas] lies in
    // [[user], [user, []]] because an array sorts after every string.
    await this.tx('readwrite', (s, p) => {
      const range = IDBKeyRange.bound([user], [user, []]);
      s.delete(range);
      p.delete(range);
    });
  }

  /** Closes the database (tests). */
  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    if (db) (await db).close();
  }
}

/** The studio's store. */
export const localStore = new LocalStore();
