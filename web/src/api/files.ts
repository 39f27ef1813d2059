// Files of a canvas: uploads with progress (XMLHttpRequest, whose upload
// events fetch does not give), and the bytes of a file as an object URL.
// Every file route needs the Authorization header, so an <img src> cannot
// load a file directly: it is fetched with the header and shown through
// URL.createObjectURL, one URL per file for the page's life (a file never
// changes: its id is its hash).

import { accessToken, ApiError } from './client';

/** A file as the API shows it. */
export interface FileInfo {
  id: string;
  size: number;
  type: string;
  width: number;
  height: number;
  name: string;
  created_by?: string;
  created_at?: string;
}

/** The data of an image or file card (width and height only for images). */
export interface FileCardData {
  file: string;
  name: string;
  size: number;
  type: string;
  width?: number;
  height?: number;
}

/** How far an upload has come, in bytes. */
export interface Progress {
  loaded: number;
  total: number;
}

/** An upload under way: its answer, and a way to stop it. */
export interface Upload {
  done: Promise<FileInfo>;
  abort(): void;
}

function filesPath(canvasId: string): string {
  return `/api/v1/canvases/${encodeURIComponent(canvasId)}/files`;
}

/** The ApiError of a finished XHR that failed. */
function xhrError(xhr: XMLHttpRequest): ApiError {
  let e: { code?: string; message?: string; field?: string } | undefined;
  try {
    e = (JSON.parse(xhr.responseText) as { error?: typeof e }).error;
  } catch {
    /* not JSON */
  }
  return new ApiError(xhr.status, e?.code ?? 'http_' + xhr.status, e?.message ?? xhr.statusText, e?.field);
}

function send(canvasId: string, file: File, token: string, onProgress: (p: Progress) => void, started: (x: XMLHttpRequest) => void): Promise<FileInfo> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    started(xhr);
    xhr.open('POST', `${filesPath(canvasId)}?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size });
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as FileInfo);
        } catch {
          reject(new ApiError(xhr.status, 'bad_answer', 'the server gave no file'));
        }
      } else reject(xhrError(xhr));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the server cannot be reached'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'upload cancelled'));
    xhr.send(file);
  });
}

/**
 * Uploads a file to a canvas as the raw body (its name in ?name=),
 * reporting progress; a 401 refreshes the token and tries once more.
 */
export function uploadFile(canvasId: string, file: File, onProgress: (p: Progress) => void = () => {}): Upload {
  let xhr: XMLHttpRequest | null = null;
  let aborted = false;
  const started = (x: XMLHttpRequest) => {
    xhr = x;
    if (aborted) queueMicrotask(() => x.abort());
  };
  const done = (async () => {
    try {
      return await send(canvasId, file, await accessToken(), onProgress, started);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401 || aborted) throw err;
      return send(canvasId, file, await accessToken(true), onProgress, started);
    }
  })();
  return {
    done,
    abort() {
      aborted = true;
      xhr?.abort();
    },
  };
}

/** GETs a file route with the header, refreshing the token once on 401. */
async function getWithToken(path: string): Promise<Response> {
  const get = async (token: string) => {
    try {
      return await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    } catch {
      throw new ApiError(0, 'network', 'the server cannot be reached');
    }
  };
  let res = await get(await accessToken());
  if (res.status === 401) res = await get(await accessToken(true));
  if (!res.ok) {
    let e: { code?: string; message?: string } | undefined;
    try {
      e = ((await res.json()) as { error?: typeof e }).error;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, e?.code ?? 'http_' + res.status, e?.message ?? res.statusText);
  }
  return res;
}

const urls = new Map<string, Promise<string>>();

/**
 * An object URL of a file's bytes, fetched once per canvas and file for the
 * page's life; a failed fetch is forgotten, so that the next call tries again.
 * With previewWidth (128, 256, 512 or 1024), the image's preview of that
 * width instead (the image itself when it is no wider), which is what a card
 * shows: a canvas of many photos loads small images.
 */
export function fileURL(canvasId: string, fileId: string, previewWidth?: number): Promise<string> {
  const key = `${canvasId}/${fileId}/${previewWidth ?? ''}`;
  let p = urls.get(key);
  if (!p) {
    const path = `${filesPath(canvasId)}/${encodeURIComponent(fileId)}`;
    p = getWithToken(previewWidth ? `${path}/preview?width=${previewWidth}` : path)
      .then((res) => res.blob())
      .then((blob) => URL.createObjectURL(blob));
    p.catch(() => urls.delete(key));
    urls.set(key, p);
  }
  return p;
}

/** Forgets the cached object URLs (tests). */
export function forgetFileURLs(): void {
  urls.clear();
}

/** Saves a file under its original name, fetched with the header. */
export async function downloadFile(canvasId: string, fileId: string, name: string): Promise<void> {
  const url = await fileURL(canvasId, fileId);
  const a = document.createElement('a');
  a.href = url;
  a.download = name || fileId;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/** Whether an uploaded file is shown as an image card: a raster image whose size is known. */
export function isImage(f: Pick<FileInfo, 'type' | 'width' | 'height'>): boolean {
  return f.type.startsWith('image/') && f.width > 0 && f.height > 0;
}

/** The data of the card for an uploaded file. */
export function cardData(f: FileInfo): FileCardData {
  const d: FileCardData = { file: f.id, name: f.name, size: f.size, type: f.type };
  if (isImage(f)) {
    d.width = f.width;
    d.height = f.height;
  }
  return d;
}

/** A card's file data, if its data holds one. */
export function fileCardData(data: Record<string, unknown>): FileCardData | null {
  if (typeof data.file !== 'string' || !data.file) return null;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
  return {
    file: data.file,
    name: typeof data.name === 'string' ? data.name : '',
    size: num(data.size) ?? 0,
    type: typeof data.type === 'string' ? data.type : '',
    width: num(data.width),
    height: num(data.height),
  };
}

/** The width of a new image card. */
export const imageCardWidth = 240;
/** The tallest a new image card is; a taller picture is made narrower instead. */
export const imageCardMaxHeight = 480;

/**
 * The size of a new image card: imageCardWidth wide with the picture's
 * aspect ratio, a tall picture fitted into imageCardMaxHeight.
 */
export function imageCardSize(width: number, height: number): { w: number; h: number } {
  if (!(width > 0 && height > 0)) return { w: imageCardWidth, h: 180 };
  const h = (imageCardWidth * height) / width;
  if (h <= imageCardMaxHeight) return { w: imageCardWidth, h: Math.max(1, Math.round(h)) };
  return { w: Math.max(24, Math.round((imageCardMaxHeight * width) / height)), h: imageCardMaxHeight };
}

/** A byte count for people: 512 B, 1.5 KB, 12 MB (powers of 1024). */
export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, '') : Math.round(v)} ${units[i]}`;
}
