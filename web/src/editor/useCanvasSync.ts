// useCanvasSync opens a canvas for the editor: one Connection, one
// SyncClient and the user's UndoManager, with React state that follows them
// (re-rendering at most once per animation frame).

import { useEffect, useMemo, useState } from 'react';
import { accessToken, wsURL } from '../api/client';
import { SyncClient, type Peer, type RejectInfo, type SyncStatus } from '../sync/client';
import { Connection } from '../sync/connection';
import type { Role } from '../sync/protocol';
import { UndoManager } from '../undo/undo';
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
    const client = new SyncClient({ canvas: canvasId, conn, name: user.name, color });
    const undo = new UndoManager(client);
    return { conn, client, undo };
  }, [canvasId, user.name, color]);

  const [version, setVersion] = useState(0);
  const [status, setStatus] = useState<SyncStatus>(client.status);
  const [pending, setPending] = useState(0);
  const [role, setRole] = useState<Role | null>(null);
  const [peers, setPeers] = useState<Map<string, Peer>>(new Map());
  const [fatal, setFatal] = useState(false);
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
    conn.start();
    return () => {
      for (const off of offs) off();
      window.removeEventListener('online', online);
      window.removeEventListener('offline', offline);
      if (frame) cancelAnimationFrame(frame);
      rememberSeq(canvasId, client.seq);
      client.close();
      conn.stop();
    };
  }, [conn, client, undo, canvasId]);

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
    rejects,
    dismissReject: (cbid) => setRejects((rs) => rs.filter((r) => r.cbid !== cbid)),
    color,
  };
}
