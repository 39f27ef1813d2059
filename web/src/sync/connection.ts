// Connection is one WebSocket to /ws that stays up: it authenticates with
// the first frame, reconnects with backoff when the socket drops, and
// watches for a dead link with pings. What is joined over it is the
// business of its users (SyncClient, CanvasWatcher), which re-join in
// their "open" handler.

import { Backoff } from './backoff';
import { Emitter } from './emitter';
import { CloseCode, type ClientFrame, type Limits, type ServerFrame } from './protocol';

/** The part of the browser's WebSocket that Connection uses. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

/**
 * connecting: first attempt; open: authenticated; reconnecting: the link
 * dropped and attempts go on; offline: the browser is offline or several
 * attempts failed (attempts still go on); stopped: stop() was called.
 */
export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'offline' | 'stopped';

export interface ConnectionOptions {
  /** ws:// or wss:// URL of /ws. */
  url: string;
  /** Returns an access token; refresh is true after the server refused the last one. */
  getToken: (refresh: boolean) => Promise<string>;
  /** Default: the browser's WebSocket. */
  socketFactory?: SocketFactory;
  /** Default: 250 ms doubling to 10 s with jitter. */
  backoff?: Backoff;
  /** How often to ping when nothing is received; default 20 s. */
  pingIntervalMs?: number;
  /** How long to wait for any frame after a ping before giving up on the link; default 10 s. */
  pingTimeoutMs?: number;
  /** Failed attempts in a row after which the status says offline; default 3. */
  offlineAfter?: number;
}

type Events = {
  status: ConnectionStatus;
  /** Authenticated (hello received): join here. */
  open: { user: string; session: string };
  frame: ServerFrame;
  /** The socket closed; frames sent and not answered have an unknown outcome. */
  down: { code: number; reason: string };
};

const OPEN = 1;

export class Connection extends Emitter<Events> {
  status: ConnectionStatus = 'connecting';
  user = '';
  session = '';
  limits: Limits | null = null;

  private ws: SocketLike | null = null;
  private gen = 0;
  private authed = false;
  private refreshToken = false;
  private browserOnline = true;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  private pingSentAt = 0;
  private readonly backoff: Backoff;
  private readonly factory: SocketFactory;

  constructor(private readonly opts: ConnectionOptions) {
    super();
    this.backoff = opts.backoff ?? new Backoff();
    this.factory = opts.socketFactory ?? ((url) => new WebSocket(url) as unknown as SocketLike);
  }

  /** Opens the connection; it stays up until stop(). */
  start(): void {
    if (this.status === 'stopped') return;
    void this.connect();
  }

  /** Closes the connection for good. */
  stop(): void {
    this.setStatus('stopped');
    this.clearTimers();
    this.gen++;
    const ws = this.ws;
    this.ws = null;
    this.authed = false;
    ws?.close(1000, 'bye');
  }

  /** True when authenticated and the socket is open. */
  get isOpen(): boolean {
    return this.authed && this.ws?.readyState === OPEN;
  }

  /** Sends a frame when open; false when it could not be sent. */
  send(frame: ClientFrame): boolean {
    if (!this.ws || this.ws.readyState !== OPEN || (!this.authed && frame.type !== 'auth')) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Tells the connection whether the browser is online; coming online retries at once. */
  setBrowserOnline(online: boolean): void {
    this.browserOnline = online;
    if (online) this.retryNow();
    else if (this.status !== 'open' && this.status !== 'stopped') this.setStatus('offline');
  }

  /** Drops the socket (if any) and reconnects at once. */
  reconnect(): void {
    if (this.status === 'stopped') return;
    const ws = this.ws;
    if (ws) {
      this.drop(ws, 4000, 'client reconnect');
      return;
    }
    this.retryNow();
  }

  private retryNow() {
    if (this.status === 'stopped' || this.ws) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.backoff.reset();
    void this.connect();
  }

  private async connect() {
    const gen = ++this.gen;
    let token: string;
    try {
      token = await this.opts.getToken(this.refreshToken);
    } catch {
      if (gen === this.gen) this.scheduleRetry();
      return;
    }
    if (gen !== this.gen || this.status === 'stopped') return;
    this.refreshToken = false;
    let ws: SocketLike;
    try {
      ws = this.factory(this.opts.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws === ws) ws.send(JSON.stringify({ type: 'auth', token } satisfies ClientFrame));
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.onMessage(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws === ws) this.onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private onMessage(data: unknown) {
    if (typeof data !== 'string') return;
    let f: ServerFrame;
    try {
      f = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    this.lastFrameAt = Date.now();
    this.pingSentAt = 0;
    if (f.type === 'hello') {
      this.authed = true;
      this.user = f.user;
      this.session = f.session;
      this.limits = f.limits;
      this.backoff.reset();
      this.startPing();
      this.setStatus('open');
      this.emit('open', { user: f.user, session: f.session });
      return;
    }
    this.emit('frame', f);
  }

  private onClose(code: number, reason: string) {
    this.ws = null;
    this.authed = false;
    this.clearTimers();
    if (code === CloseCode.Unauthorized) this.refreshToken = true;
    this.emit('down', { code, reason });
    if (this.status === 'stopped') return;
    this.scheduleRetry(code === CloseCode.Resync || code === 4000);
  }

  private scheduleRetry(immediately = false) {
    if (this.status === 'stopped') return;
    const offline = !this.browserOnline || this.backoff.attempts >= (this.opts.offlineAfter ?? 3);
    this.setStatus(this.status === 'connecting' && !offline ? 'connecting' : offline ? 'offline' : 'reconnecting');
    const delay = immediately ? 0 : this.backoff.next();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }

  private drop(ws: SocketLike, code: number, reason: string) {
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close(code, reason);
    } catch {
      /* already closed */
    }
    if (this.ws === ws) this.onClose(code, reason);
  }

  private startPing() {
    const every = this.opts.pingIntervalMs ?? 20_000;
    const timeout = this.opts.pingTimeoutMs ?? 10_000;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = setInterval(
      () => {
        const ws = this.ws;
        if (!ws) return;
        const now = Date.now();
        if (this.pingSentAt && now - this.pingSentAt >= timeout) {
          this.drop(ws, 4000, 'no answer to ping');
          return;
        }
        if (!this.pingSentAt && now - this.lastFrameAt >= every) {
          this.pingSentAt = now;
          this.send({ type: 'ping' });
        }
      },
      Math.min(every, timeout) / 2,
    );
  }

  private clearTimers() {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
    this.pingSentAt = 0;
  }

  private setStatus(s: ConnectionStatus) {
    if (this.status === s) return;
    if (this.status === 'stopped') return;
    this.status = s;
    this.emit('status', s);
  }
}
