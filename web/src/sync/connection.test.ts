import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from './backoff';
import { Connection } from './connection';
import { fakeSockets } from './fakesocket';

const limits = { max_frame_bytes: 1 << 20, max_canvases: 16, ops_per_second: 2000, ops_burst: 5000, presence_interval_ms: 50, send_queue: 1024 };

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('Connection', () => {
  it('pings a quiet link and drops it when nothing answers', async () => {
    const fs = fakeSockets();
    const conn = new Connection({ url: 'ws://t/ws', getToken: async () => 't', socketFactory: fs.factory, backoff: new Backoff(100, 100, () => 1), pingIntervalMs: 1000, pingTimeoutMs: 500 });
    const statuses: string[] = [];
    conn.on('status', (s) => statuses.push(s));
    conn.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = fs.last();
    ws.open();
    ws.push({ type: 'hello', session: 's', user: 'u', limits });
    await vi.advanceTimersByTimeAsync(1100);
    expect(ws.framesOf('ping')).toHaveLength(1);
    ws.push({ type: 'pong' });
    await vi.advanceTimersByTimeAsync(1300);
    expect(ws.framesOf('ping')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(600); // no pong this time
    expect(ws.closedWith).toBe(4000);
    expect(conn.status).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(150);
    expect(fs.sockets).toHaveLength(2);
    expect(statuses).toEqual(['open', 'reconnecting']);
  });

  it('says offline after failed attempts and retries at once when the browser is back online', async () => {
    const fs = fakeSockets();
    const conn = new Connection({ url: 'ws://t/ws', getToken: async () => 't', socketFactory: fs.factory, backoff: new Backoff(1000, 8000, () => 1), offlineAfter: 2 });
    conn.start();
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 3; i++) {
      fs.last().drop(1006);
      await vi.advanceTimersByTimeAsync(10_000);
    }
    expect(conn.status).toBe('offline');
    const before = fs.sockets.length;
    fs.last().drop(1006); // down again, waiting for a long backoff
    conn.setBrowserOnline(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(fs.sockets.length).toBe(before + 1);
    conn.stop();
    expect(conn.status).toBe('stopped');
  });
});
