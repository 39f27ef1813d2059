// The signed-in session, kept in localStorage so that a reload (and other
// tabs) stay signed in.

import { useSyncExternalStore } from 'react';
import type { User } from './client';

export interface Session {
  user: User;
  accessToken: string;
  refreshToken: string;
  /** Unix ms when the access token expires. */
  expiresAt: number;
}

const key = 'sker.session';
const listeners = new Set<() => void>();
let current: Session | null = read();

function read(): Session | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

if (typeof window !== 'undefined') {
  window.addEventListener('storage', (e) => {
    if (e.key !== key) return;
    current = read();
    for (const l of listeners) l();
  });
}

export const session = {
  get: (): Session | null => current,
  set(s: Session | null): void {
    current = s;
    try {
      if (s) localStorage.setItem(key, JSON.stringify(s));
      else localStorage.removeItem(key);
    } catch {
      /* private mode: the session lives in memory only */
    }
    for (const l of listeners) l();
  },
  subscribe(fn: () => void): () => void {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

/** The current session; re-renders when it changes. */
export function useSession(): Session | null {
  return useSyncExternalStore(session.subscribe, session.get, session.get);
}
