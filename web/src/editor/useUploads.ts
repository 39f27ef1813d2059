// useUploads runs the uploads of an editor: what is under way (for the
// progress bars) and what failed, with the reason (for the toasts).

import type { TFunction } from 'i18next';
import { useCallback, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { uploadFile, type FileInfo } from '../api/files';
import { errorText } from '../pages/errors';

/** An upload under way. */
export interface UploadItem {
  key: string;
  name: string;
  loaded: number;
  total: number;
}

/** An upload that failed, and why. */
export interface UploadFailure {
  key: string;
  name: string;
  reason: string;
}

export interface Uploads {
  items: UploadItem[];
  failures: UploadFailure[];
  /** Uploads a file; its answer, or null when it failed (the failure is then listed). */
  start(file: File): Promise<FileInfo | null>;
  dismiss(key: string): void;
}

/** Why an upload failed, for people: the server's message where it says the most. */
export function uploadErrorText(t: TFunction, err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'file_too_large') return t('errors.file_too_large', { message: err.message });
    if (err.code === 'quota_exceeded') return t('errors.quota_exceeded', { message: err.message });
    if (err.code === 'network') return t('errors.uploadNetwork');
  }
  return errorText(t, err);
}

let seq = 0;

export function useUploads(canvasId: string): Uploads {
  const { t } = useTranslation();
  const [items, setItems] = useState<UploadItem[]>([]);
  const [failures, setFailures] = useState<UploadFailure[]>([]);
  const tRef = useRef(t);
  tRef.current = t;

  const start = useCallback(
    async (file: File) => {
      const key = `u${++seq}`;
      setItems((l) => [...l, { key, name: file.name, loaded: 0, total: file.size }]);
      const up = uploadFile(canvasId, file, (p) =>
        setItems((l) => l.map((i) => (i.key === key ? { ...i, loaded: p.loaded, total: p.total || i.total } : i))),
      );
      try {
        return await up.done;
      } catch (err) {
        setFailures((l) => [...l, { key, name: file.name, reason: uploadErrorText(tRef.current, err) }]);
        return null;
      } finally {
        setItems((l) => l.filter((i) => i.key !== key));
      }
    },
    [canvasId],
  );

  const dismiss = useCallback((key: string) => setFailures((l) => l.filter((f) => f.key !== key)), []);

  return useMemo(() => ({ items, failures, start, dismiss }), [items, failures, start, dismiss]);
}
