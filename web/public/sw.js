// The studio's service worker: it keeps the app shell (index.html and the
// hashed assets it names) so that a reload while the server is down still
// starts the studio, which then shows the canvases kept in IndexedDB.
// See docs/offline.md.
//
// - Pages (navigations): the network first, its answer kept as the shell;
//   the kept shell when the network fails.
// - /assets/*: hashed names never change, so the cache first; kept on
//   the first fetch. A new shell drops the assets it no longer names.
// - The API, /ws, /health, /ready, /metrics and other origins: never
//   touched (not even looked at), so nothing of theirs is ever cached.

const CACHE = 'sker-shell-v1';
const SHELL = '/index.html';
const reserved = ['/api', '/ws', '/health', '/ready', '/metrics'];

function isReserved(path) {
  return reserved.some((r) => path === r || path.startsWith(r + '/'));
}

/** The /assets/ URLs that an index.html names. */
function assetsOf(html) {
  const out = new Set();
  for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) out.add(m[1]);
  return [...out];
}

/** Keeps a fresh index.html and every asset it names; drops assets of older builds. */
async function keepShell(response) {
  const cache = await caches.open(CACHE);
  const html = await response.clone().text();
  const assets = assetsOf(html);
  await cache.put(SHELL, response);
  const wanted = new Set(assets.map((a) => new URL(a, self.location.origin).href));
  const missing = [];
  for (const a of wanted) if (!(await cache.match(a))) missing.push(a);
  await cache.addAll(missing);
  for (const req of await cache.keys()) {
    const u = new URL(req.url);
    if (u.pathname.startsWith('/assets/') && !wanted.has(u.href)) await cache.delete(req);
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const r = await fetch(SHELL, { cache: 'no-cache' });
      if (r.ok) await keepShell(r);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith('sker-shell-') && name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

async function page(event) {
  const request = event.request;
  try {
    const r = await fetch(request);
    // Only an HTML page is kept as the shell, never an error answer.
    if (r.ok && (r.headers.get('content-type') || '').startsWith('text/html')) {
      event.waitUntil(keepShell(r.clone()).catch(() => undefined));
    }
    return r;
  } catch (err) {
    const kept = await caches.match(SHELL);
    if (kept) return kept;
    throw err;
  }
}

async function asset(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  if (kept) return kept;
  const r = await fetch(request);
  if (r.ok) await cache.put(request, r.clone());
  return r;
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || isReserved(url.pathname)) return;
  if (req.mode === 'navigate') {
    event.respondWith(page(event));
    return;
  }
  if (url.pathname.startsWith('/assets/')) event.respondWith(asset(req));
});
