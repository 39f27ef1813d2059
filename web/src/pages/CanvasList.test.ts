import { describe, expect, it } from 'vitest';
import type { CanvasInfo } from '../api/client';
import { colorFor } from '../editor/ids';
import { whoIsHere } from './CanvasList';

const canvas = (present?: CanvasInfo['present']): CanvasInfo => ({
  id: 'c1',
  title: 'Road map',
  settings: {},
  created_by: 'u1',
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  role: 'owner',
  present,
});

describe('whoIsHere', () => {
  it('lists the people the server says are on a canvas this browser never opened', () => {
    const got = whoIsHere(canvas([{ user_id: 'u2', name: 'Bob', connections: 2 }]), new Map());
    expect(got).toEqual([{ user: 'u2', name: 'Bob', color: colorFor('u2') }]);
  });

  it('keeps the live colour and lists each person once', () => {
    const live = new Map([
      [
        'c1',
        new Map([
          ['s1', { user: 'u2', name: 'Bob', color: '#123456' }],
          ['s2', { user: 'u2', name: 'Bob', color: '#123456' }],
        ]),
      ],
    ]);
    const got = whoIsHere(
      canvas([
        { user_id: 'u2', name: 'Bob', connections: 2 },
        { user_id: 'u3', name: 'Cy', connections: 1 },
      ]),
      live,
    );
    expect(got).toEqual([
      { user: 'u2', name: 'Bob', color: '#123456' },
      { user: 'u3', name: 'Cy', color: colorFor('u3') },
    ]);
  });

  it('lists nobody when nobody is there', () => {
    expect(whoIsHere(canvas([]), new Map())).toEqual([]);
    expect(whoIsHere(canvas(undefined), new Map())).toEqual([]);
  });
});
