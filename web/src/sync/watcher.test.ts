import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from './backoff';
import { Connection } from './connection';
import { fakeSockets } from './fakesocket';
import { CanvasWatcher } from './watcher';

const limits = { max_frame_bytes: 1 << 20, max_canvases: 4, ops_per_second: 2000, ops_burst: 5000, presence_interval_ms: 50, send_queue: 1024 };

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('CanvasWatcher', () => {
  it('joins watched canvases with since, tracks their presence, and rejoins after a drop', async () => {
    const fs = fakeSockets();
    const conn = new Connection({ url: 'ws://t/ws', getToken: async () => 't', socketFactory: fs.factory, backoff: new Backoff(10, 10, () => 0) });
    const w = new CanvasWatcher(conn);
    conn.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = fs.last();
    ws.open();
    ws.push({ type: 'hello', session: 's', user: 'u', limits });
    // At most max_canvases - 1 canvases.
    w.watch([
      { id: 'a', since: 3 },
      { id: 'b', since: 9 },
      { id: 'c', since: 1 },
      { id: 'd', since: 1 },
    ]);
    expect(ws.framesOf('join')).toEqual([
      { type: 'join', canvas: 'a', since: 3 },
      { type: 'join', canvas: 'b', since: 9 },
      { type: 'join', canvas: 'c', since: 1 },
    ]);
    ws.push({ type: 'presence', canvas: 'a', session: 'x', user: 'u2', name: 'Bo', color: '#f00' });
    ws.push({ type: 'presence', canvas: 'a', session: 'y', user: 'u3', name: 'Cy' });
    ws.push({ type: 'presence.leave', canvas: 'a', session: 'y' });
    expect([...w.presence.get('a')!.values()]).toEqual([{ user: 'u2', name: 'Bo', color: '#f00' }]);
    ws.push({ type: 'changes', canvas: 'b', batches: [{ seq: 10, author: 'u2', at: 1, ops: [] }] });

    // Unwatching leaves.
    w.watch([{ id: 'b', since: 9 }]);
    expect(ws.framesOf('leave')).toEqual([
      { type: 'leave', canvas: 'a' },
      { type: 'leave', canvas: 'c' },
    ]);
    expect(w.presence.has('a')).toBe(false);

    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(20);
    const ws2 = fs.last();
    expect(ws2).not.toBe(ws);
    ws2.open();
    ws2.push({ type: 'hello', session: 's2', user: 'u', limits });
    expect(ws2.framesOf('join')).toEqual([{ type: 'join', canvas: 'b', since: 10 }]);
  });
});
