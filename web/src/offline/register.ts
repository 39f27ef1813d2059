// Registers the service worker (public/sw.js) that keeps the app shell, so
// that a reload while the server is down still starts the studio. Only in
// a production build: the dev server's modules are not hashed assets.

export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return;
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
      /* not over https, or blocked: the studio works without it, online */
    });
  });
}
