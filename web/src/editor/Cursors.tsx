// Other people's cursors, in canvas coordinates, with their names.

import { ViewportPortal, useStore } from '@xyflow/react';
import type { Peer } from '../sync/client';

export function Cursors({ peers }: { peers: Map<string, Peer> }) {
  // Cursors keep their screen size whatever the zoom.
  const zoom = useStore((s) => s.transform[2]);
  return (
    <ViewportPortal>
      {[...peers.values()]
        .filter((p) => p.cursor)
        .map((p) => (
          <div
            key={p.session}
            className="cursor"
            data-testid="peer-cursor"
            style={{ transform: `translate(${p.cursor!.x}px, ${p.cursor!.y}px) scale(${1 / zoom})` }}
          >
            <svg width="18" height="22" viewBox="0 0 18 22" aria-hidden="true">
              <path d="M1 1 L1 17 L5.5 13 L9 21 L12 19.6 L8.6 12 L15 12 Z" fill={p.color} stroke="#fff" strokeWidth="1.5" />
            </svg>
            <span className="cursor-name" style={{ background: p.color }}>
              {p.name}
            </span>
          </div>
        ))}
    </ViewportPortal>
  );
}
