import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from './client';
import { cardData, fileCardData, fileURL, forgetFileURLs, formatSize, imageCardSize, uploadFile } from './files';
import { session } from './session';

/** A stand-in for the browser's XMLHttpRequest: records what is sent, answers when told. */
class FakeXHR {
  static all: FakeXHR[] = [];
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: unknown;
  status = 0;
  statusText = '';
  responseText = '';
  aborted = false;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXHR.all.push(this);
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v;
  }
  send(body: unknown) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

const png = { id: 'ab'.repeat(32), size: 2048, type: 'image/png', width: 640, height: 480, name: 'diagram.png' };
const user = { id: 'u1', email: 'ada@example.com', name: 'Ada', created_at: '' };

/** Waits until the n-th request has been sent. */
async function sent(n: number): Promise<FakeXHR> {
  await vi.waitFor(() => expect(FakeXHR.all.length).toBeGreaterThanOrEqual(n));
  const x = FakeXHR.all[n - 1];
  await vi.waitFor(() => expect(x.body).toBeDefined());
  return x;
}

beforeEach(() => {
  FakeXHR.all = [];
  vi.stubGlobal('XMLHttpRequest', FakeXHR);
  session.set({ user, accessToken: 'tok', refreshToken: 'ref', expiresAt: Date.now() + 600_000 });
  forgetFileURLs();
});
afterEach(() => {
  vi.unstubAllGlobals();
  session.set(null);
});

describe('uploadFile', () => {
  it('posts the raw file with its name and the token, reports progress, and gives the answer', async () => {
    const file = new File(['x'.repeat(2048)], 'my diagram.png', { type: 'image/png' });
    const progress: Array<[number, number]> = [];
    const up = uploadFile('c 1', file, (p) => progress.push([p.loaded, p.total]));
    const x = await sent(1);
    expect(x.method).toBe('POST');
    expect(x.url).toBe('/api/v1/canvases/c%201/files?name=my%20diagram.png');
    expect(x.headers.Authorization).toBe('Bearer tok');
    expect(x.body).toBe(file);
    x.upload.onprogress?.({ loaded: 1024, total: 2048, lengthComputable: true });
    x.upload.onprogress?.({ loaded: 2048, total: 2048, lengthComputable: true });
    x.answer(201, png);
    await expect(up.done).resolves.toEqual(png);
    expect(progress).toEqual([
      [1024, 2048],
      [2048, 2048],
    ]);
  });

  it("turns the server's error into an ApiError with its code and message", async () => {
    const up = uploadFile('c1', new File(['x'], 'big.bin'));
    const x = await sent(1);
    x.answer(413, { error: { code: 'file_too_large', message: 'files may be at most 65536 bytes' } });
    const err = await up.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 413, code: 'file_too_large', message: 'files may be at most 65536 bytes' });
  });

  it('says the server cannot be reached when the connection fails', async () => {
    const up = uploadFile('c1', new File(['x'], 'a.txt'));
    const x = await sent(1);
    x.onerror?.();
    await expect(up.done).rejects.toMatchObject({ code: 'network', status: 0 });
  });

  it('refreshes the token once on 401 and sends the file again', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ user, access_token: 'tok2', refresh_token: 'ref2', expires_in: 900 }), { status: 200 })),
    );
    const up = uploadFile('c1', new File(['x'], 'a.png'));
    (await sent(1)).answer(401, { error: { code: 'unauthorized', message: 'expired' } });
    const again = await sent(2);
    expect(again.headers.Authorization).toBe('Bearer tok2');
    again.answer(201, png);
    await expect(up.done).resolves.toEqual(png);
  });

  it('stops when aborted', async () => {
    const up = uploadFile('c1', new File(['x'], 'a.png'));
    const x = await sent(1);
    up.abort();
    expect(x.aborted).toBe(true);
    await expect(up.done).rejects.toMatchObject({ code: 'aborted' });
  });
});

describe('fileURL', () => {
  it('fetches a file once with the header and hands out one object URL', async () => {
    const fetchMock = vi.fn(async () => new Response(new Blob(['png']), { status: 200 }));
    vi.stubGlobal('fetch', fetchMock);
    const create = vi.fn(() => 'blob:one');
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: create }));
    expect(await fileURL('c1', 'f1')).toBe('blob:one');
    expect(await fileURL('c1', 'f1')).toBe('blob:one');
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(fetchMock).toHaveBeenCalledWith('/api/v1/canvases/c1/files/f1', { headers: { Authorization: 'Bearer tok' } });
    expect(create).toHaveBeenCalledTimes(1);
  });

  it('fetches a preview of the width asked, cached apart from the file', async () => {
    const fetchMock = vi.fn(async () => new Response(new Blob(['jpg']), { status: 200 }));
    vi.stubGlobal('fetch', fetchMock);
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: vi.fn(() => 'blob:preview') }));
    expect(await fileURL('c1', 'f3', 512)).toBe('blob:preview');
    expect(await fileURL('c1', 'f3', 512)).toBe('blob:preview');
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(fetchMock).toHaveBeenCalledWith('/api/v1/canvases/c1/files/f3/preview?width=512', { headers: { Authorization: 'Bearer tok' } });
    await fileURL('c1', 'f3');
    expect(fetchMock).toHaveBeenLastCalledWith('/api/v1/canvases/c1/files/f3', { headers: { Authorization: 'Bearer tok' } });
  });

  it('forgets a failed fetch, so that the next call tries again', async () => {
    const fetchMock = vi
      .fn()
      .mockResolvedValueOnce(new Response(JSON.stringify({ error: { code: 'not_found', message: 'no such file' } }), { status: 404 }))
      .mockResolvedValueOnce(new Response(new Blob(['png']), { status: 200 }));
    vi.stubGlobal('fetch', fetchMock);
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: () => 'blob:two' }));
    await expect(fileURL('c1', 'f2')).rejects.toMatchObject({ status: 404, code: 'not_found' });
    expect(await fileURL('c1', 'f2')).toBe('blob:two');
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });
});

describe('card data', () => {
  it('keeps width and height for images only', () => {
    expect(cardData(png)).toEqual({ file: png.id, name: 'diagram.png', size: 2048, type: 'image/png', width: 640, height: 480 });
    expect(cardData({ ...png, type: 'application/pdf', width: 0, height: 0, name: 'a.pdf' })).toEqual({
      file: png.id,
      name: 'a.pdf',
      size: 2048,
      type: 'application/pdf',
    });
  });

  it('reads a card back, and nothing from data without a file', () => {
    expect(fileCardData({ file: 'f', name: 'n', size: 3, type: 't', width: 4, height: 5 })).toEqual({
      file: 'f',
      name: 'n',
      size: 3,
      type: 't',
      width: 4,
      height: 5,
    });
    expect(fileCardData({ text: 'hi' })).toBeNull();
    expect(fileCardData({ file: 'f', size: 'big', width: -1 })).toEqual({ file: 'f', name: '', size: 0, type: '', width: undefined, height: undefined });
  });

  it.each([
    [640, 480, { w: 240, h: 180 }],
    [100, 100, { w: 240, h: 240 }],
    [2000, 100, { w: 240, h: 12 }],
    [100, 1000, { w: 48, h: 480 }],
    [1, 100000, { w: 24, h: 480 }],
    [0, 0, { w: 240, h: 180 }],
  ])('sizes an image card for %i×%i as %o', (w, h, want) => {
    expect(imageCardSize(w, h)).toEqual(want);
  });

  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KB'],
    [65536, '64 KB'],
    [10 * 1024 * 1024, '10 MB'],
  ])('formats %i bytes as %s', (n, want) => {
    expect(formatSize(n)).toBe(want);
  });
});
