// useCanvasSync opens a canvas for the editor: one Connection, one
// SyncClient and the user's UndoManager, with React state that follows them
// (re-rendering at most once per animation frame).

import { useEffect, useMemo, useState } from 'react';
import { accessToken, wsURL } from '../api/client';
import { SyncClient, type Peer, type RejectInfo, type SyncStatus } from '../sync/client';
import { Connection } from '../sync/connection';
import type { Role } from '../sync/protocol';
import { UndoManager } from '../undo/undo';
import { persist, restore, type Persisting } from '../offline/persist';
import { localStore } from '../offline/store';
import { colorFor } from './ids';

export interface CanvasSync {
  client: SyncClient;
  undo: UndoManager;
  conn: Connection;
  /** Bumped whenever the doc changed. */
  version: number;
  status: SyncStatus;
  pending: number;
  role: Role | null;
  peers: Map<string, Peer>;
  fatal: boolean;
  /** Showing what the device kept, until the server answers the join. */
  local: boolean;
  rejects: RejectInfo[];
  dismissReject(cbid: string): void;
  color: string;
}

/** The last seq seen of a canvas, for the canvas list's presence watcher. */
export function rememberSeq(canvasId: string, seq: number | undefined): void {
  if (seq === undefined) return;
  try {
    localStorage.setItem(`sker.seq.${canvasId}`, String(seq));
  } catch {
    /* unavailable */
  }
}

export function useCanvasSync(canvasId: string, user: { id: string; name: string }): CanvasSync {
  const color = colorFor(user.id);
  const { conn, client, undo } = useMemo(() => {
    const conn = new Connection({ url: wsURL(), getToken: accessToken });
    const client = new SyncClient({ canvas: canvasId, conn, name: user.name, color, user: user.id });
    const undo = new UndoManager(client);
    return { conn, client, undo };
  }, [canvasId, user.id, user.name, color]);

  const [version, setVersion] = useState(0);
  const [status, setStatus] = useState<SyncStatus>(client.status);
  const [pending, setPending] = useState(0);
  const [role, setRole] = useState<Role | null>(null);
  const [peers, setPeers] = useState<Map<string, Peer>>(new Map());
  const [fatal, setFatal] = useState(false);
  const [local, setLocal] = useState(false);
  const [rejects, setRejects] = useState<RejectInfo[]>([]);

  useEffect(() => {
    let frame = 0;
    const bump = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setVersion((v) => v + 1);
        setPending(client.pending.length);
      });
    };
    const offs = [
      client.on('change', bump),
      client.on('confirm', () => setPending(client.pending.length)),
      client.on('status', (s) => {
        setStatus(s);
        setPending(client.pending.length);
      }),
      client.on('joined', ({ role }) => {
        setRole(role);
        setLocal(false);
        setStatus(client.status);
      }),
      client.on('peers', (p) => setPeers(new Map(p))),
      client.on('fatal', () => setFatal(true)),
      client.on('reject', (r) => {
        undo.forget(r.cbid);
        setRejects((rs) => [...rs.slice(-4), r]);
      }),
    ];
    const online = () => conn.setBrowserOnline(true);
    const offline = () => conn.setBrowserOnline(false);
    window.addEventListener('online', online);
    window.addEventListener('offline', offline);
    if (!navigator.onLine) conn.setBrowserOnline(false);
    // The device's copy first, so that the join asks only for what is
    // newer and the kept batches go out again; then the connection.
    let saving: Persisting | null = null;
    let closed = false;
    const begin = (restored: boolean) => {
      if (closed) return;
      if (restored && !client.isJoined) {
        setLocal(true);
        setRole(client.role);
        setPending(client.pending.length);
      }
      saving = persist(client, localStore, { user: user.id });
      conn.start();
    };
    if (localStore.available) restore(client, localStore, user.id).then(begin, () => begin(false));
    else conn.start();
    const flush = () => void saving?.flush();
    window.addEventListener('pagehide', flush);
    return () => {
      closed = true;
      window.removeEventListener('pagehide', flush);
      void saving?.stop();
      for (const off of offs) off();
      window.removeEventListener('online', online);
      window.removeEventListener('offline', offline);
      if (frame) cancelAnimationFrame(frame);
      rememberSeq(canvasId, client.seq);
      client.close();
      conn.stop();
    };
  }, [conn, client, undo, canvasId, user.id]);

  useEffect(() => {
    const save = () => rememberSeq(canvasId, client.seq);
    window.addEventListener('pagehide', save);
    return () => window.removeEventListener('pagehide', save);
  }, [canvasId, client]);

  return {
    client,
    undo,
    conn,
    version,
    status,
    pending,
    role,
    peers,
    fatal,
    local,
    rejects,
    dismissReject: (cbid) => setRejects((rs) => rs.filter((r) => r.cbid !== cbid)),
    color,
  };
}
