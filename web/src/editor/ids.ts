// Ids and colours for new things on a canvas.

const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A new id for a card or an edge: prefix plus 12 random base-36 characters. */
export function newId(prefix: string): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  let s = prefix + '-';
  for (const b of bytes) s += alphabet[b % 36];
  return s;
}

const palette = [
  '#e11d48', '#2563eb', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4d7c0f',
  '#ea580c', '#0d9488', '#9333ea', '#1d4ed8', '#b91c1c', '#15803d', '#c026d3', '#0369a1',
];

/** A stable colour for a user id (FNV-1a hash into the palette). */
export function colorFor(userId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 0x01000193) >>> 0;
  return palette[h % palette.length];
}

/** One or two initials for an avatar. */
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  if (parts.length === 1) return [...parts[0]].slice(0, 2).join('').toUpperCase();
  return ([...parts[0]][0] + [...parts[parts.length - 1]][0]).toUpperCase();
}
