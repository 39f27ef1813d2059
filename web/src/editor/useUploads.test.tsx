import { act, cleanup, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client';
import { session } from '../api/session';
import { i18n } from '../i18n';
import { uploadErrorText, useUploads } from './useUploads';

beforeEach(async () => {
  await i18n.changeLanguage('en');
  session.set({ user: { id: 'u1', email: 'a@example.com', name: 'A', created_at: '' }, accessToken: 'tok', refreshToken: 'ref', expiresAt: Date.now() + 600_000 });
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  session.set(null);
});

describe('uploadErrorText', () => {
  it("gives the server's reason for a file that is too large or over a quota", () => {
    const t = i18n.t.bind(i18n);
    expect(uploadErrorText(t, new ApiError(413, 'file_too_large', 'files may be at most 65536 bytes'))).toBe(
      'The file is too large (files may be at most 65536 bytes).',
    );
    expect(uploadErrorText(t, new ApiError(403, 'quota_exceeded', 'FILE_QUOTA_CANVAS: 1 GB of 1 GB used'))).toBe(
      'There is no room for this file: FILE_QUOTA_CANVAS: 1 GB of 1 GB used',
    );
    expect(uploadErrorText(t, new ApiError(403, 'forbidden', 'viewers cannot upload'))).toBe('You are not allowed to do this.');
  });
});

describe('useUploads', () => {
  it('lists an upload with its progress while it runs, and a failure with its reason after', async () => {
    let xhr: { upload: { onprogress: (e: object) => void }; onload: () => void; status: number; responseText: string } | null = null;
    vi.stubGlobal(
      'XMLHttpRequest',
      class {
        upload = { onprogress: (_: object) => {} };
        onload = () => {};
        status = 0;
        responseText = '';
        constructor() {
          xhr = this;
        }
        open() {}
        setRequestHeader() {}
        send() {}
      },
    );
    const { result } = renderHook(() => useUploads('c1'));
    let done: Promise<unknown> = Promise.resolve();
    act(() => {
      done = result.current.start(new File(['x'.repeat(100)], 'big.bin'));
    });
    expect(result.current.items).toMatchObject([{ name: 'big.bin', loaded: 0, total: 100 }]);
    await vi.waitFor(() => expect(xhr).not.toBeNull());
    act(() => xhr!.upload.onprogress({ loaded: 40, total: 100, lengthComputable: true }));
    expect(result.current.items).toMatchObject([{ loaded: 40, total: 100 }]);
    await act(async () => {
      xhr!.status = 413;
      xhr!.responseText = JSON.stringify({ error: { code: 'file_too_large', message: 'files may be at most 64 bytes' } });
      xhr!.onload();
      expect(await done).toBeNull();
    });
    expect(result.current.items).toEqual([]);
    expect(result.current.failures).toMatchObject([{ name: 'big.bin', reason: 'The file is too large (files may be at most 64 bytes).' }]);
    act(() => result.current.dismiss(result.current.failures[0].key));
    expect(result.current.failures).toEqual([]);
  });
});
