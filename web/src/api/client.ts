// The REST client: JSON over /api/v1 with the access token, refreshed once
// (for all callers at the same time) when it has expired.

import { localStore } from '../offline/store';
import { session, type Session } from './session';

/** An error answer of the API: {"error":{"code","message","field"}}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface User {
  id: string;
  email: string;
  name: string;
  created_at: string;
}

export type Role = 'owner' | 'editor' | 'viewer';

export interface CanvasInfo {
  id: string;
  title: string;
  settings: Record<string, unknown>;
  created_by: string;
  created_at: string;
  updated_at: string;
  role: Role;
  /** Who is on the canvas now, on every node (one entry per person). */
  present?: { user_id: string; name: string; connections: number }[];
  /** Comments by others that mention me, added after my read marker (counted from the last checkpoint). */
  unread_mentions?: number;
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  created_at: string;
}

interface SessionResponse {
  user: User;
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

const base = '/api/v1';

async function request<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network', 'the server cannot be reached');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; field?: string } })?.error;
    throw new ApiError(res.status, e?.code ?? 'http_' + res.status, e?.message ?? res.statusText, e?.field);
  }
  return json as T;
}

function toSession(r: SessionResponse): Session {
  return { user: r.user, accessToken: r.access_token, refreshToken: r.refresh_token, expiresAt: Date.now() + r.expires_in * 1000 };
}

let refreshing: Promise<string> | null = null;

/** Trades the refresh token for a new session; one request however many callers ask. */
function refresh(): Promise<string> {
  if (!refreshing) {
    const s = session.get();
    refreshing = (async () => {
      if (!s) throw new ApiError(401, 'unauthorized', 'signed out');
      try {
        const r = await request<SessionResponse>('POST', '/auth/refresh', { refresh_token: s.refreshToken });
        const next = toSession(r);
        session.set(next);
        return next.accessToken;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) session.set(null);
        throw err;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** An access token valid for at least 30 s more, refreshed when needed or asked. */
export async function accessToken(forceRefresh = false): Promise<string> {
  const s = session.get();
  if (!s) throw new ApiError(401, 'unauthorized', 'signed out');
  if (!forceRefresh && s.expiresAt - Date.now() > 30_000) return s.accessToken;
  return refresh();
}

/** Calls the API as the signed-in user, refreshing the token once on 401. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const token = await accessToken();
  try {
    return await request<T>(method, path, body, token);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && session.get()) {
      return request<T>(method, path, body, await accessToken(true));
    }
    throw err;
  }
}

export const auth = {
  async login(email: string, password: string): Promise<void> {
    session.set(toSession(await request<SessionResponse>('POST', '/auth/login', { email, password })));
  },
  async register(name: string, email: string, password: string): Promise<void> {
    session.set(toSession(await request<SessionResponse>('POST', '/auth/register', { name, email, password })));
  },
  async logout(): Promise<void> {
    const s = session.get();
    session.set(null);
    // What the device kept of this user's canvases goes with the session.
    if (s && localStore.available) await localStore.clearUser(s.user.id).catch(() => undefined);
    if (s) await request('POST', '/auth/logout', { refresh_token: s.refreshToken }).catch(() => undefined);
  },
};

export const canvases = {
  list: () => api<{ canvases: CanvasInfo[] }>('GET', '/canvases').then((r) => r.canvases),
  create: (title: string) => api<CanvasInfo>('POST', '/canvases', { title }),
  rename: (id: string, title: string) => api<CanvasInfo>('PATCH', `/canvases/${encodeURIComponent(id)}`, { title }),
  remove: (id: string) => api<void>('DELETE', `/canvases/${encodeURIComponent(id)}`),
  members: (id: string) => api<{ members: Member[] }>('GET', `/canvases/${encodeURIComponent(id)}/members`).then((r) => r.members),
  addMember: (id: string, email: string, role: Role) => api<Member>('POST', `/canvases/${encodeURIComponent(id)}/members`, { email, role }),
  setRole: (id: string, userId: string, role: Role) =>
    api<Member>('PATCH', `/canvases/${encodeURIComponent(id)}/members/${encodeURIComponent(userId)}`, { role }),
  removeMember: (id: string, userId: string) => api<void>('DELETE', `/canvases/${encodeURIComponent(id)}/members/${encodeURIComponent(userId)}`),
};

/** An AI provider configured on the server: its models, the default first. */
export interface AIProvider {
  name: string;
  models: string[];
  default_model: string;
}

export const ai = {
  /** The providers and models an AI card may use (empty when none is configured). */
  providers: () => api<{ providers: AIProvider[] | null }>('GET', '/ai/providers').then((r) => r.providers ?? []),
};

/** The WebSocket URL of this server. */
export function wsURL(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}
