import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { session } from '../api/session';
import '../i18n';
import { i18n } from '../i18n';
import { ShareDialog } from './ShareDialog';

const me = { id: 'u1', email: 'ada@example.com', name: 'Ada', created_at: '' };
const members = [
  { user_id: 'u1', email: 'ada@example.com', name: 'Ada', role: 'owner', created_at: '' },
  { user_id: 'u2', email: 'bo@example.com', name: 'Bo', role: 'viewer', created_at: '' },
];

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

beforeEach(async () => {
  await i18n.changeLanguage('en');
  session.set({ user: me, accessToken: 'tok', refreshToken: 'ref', expiresAt: Date.now() + 600_000 });
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('ShareDialog', () => {
  it('lets an owner add a member by email with a role', async () => {
    const calls: Array<{ method: string; url: string; body?: string }> = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push({ method: init.method ?? 'GET', url, body: init.body as string | undefined });
        if (init.method === 'POST') return json(201, { ...members[1], user_id: 'u3', email: 'cy@example.com', role: 'editor' });
        return json(200, { members });
      }),
    );
    render(<ShareDialog canvasId="c1" title="Plan" myRole="owner" me={me} onClose={() => {}} />);
    await screen.findByText('bo@example.com');
    fireEvent.change(screen.getByTestId('share-email'), { target: { value: 'cy@example.com' } });
    fireEvent.change(screen.getByTestId('share-role'), { target: { value: 'editor' } });
    fireEvent.click(screen.getByTestId('share-add'));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.url).toBe('/api/v1/canvases/c1/members');
    expect(JSON.parse(post.body!)).toEqual({ email: 'cy@example.com', role: 'editor' });
    expect(calls[0].method).toBe('GET');
  });

  it('shows the members to a non-owner with every control disabled', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => json(200, { members })));
    render(<ShareDialog canvasId="c1" title="Plan" myRole="viewer" me={me} onClose={() => {}} />);
    await screen.findByText('bo@example.com');
    expect(screen.getByText('Only an owner can change who has access.')).toBeTruthy();
    expect((screen.getByTestId('share-email') as HTMLInputElement).disabled).toBe(true);
    expect((screen.getByTestId('share-add') as HTMLButtonElement).disabled).toBe(true);
    for (const b of screen.getAllByText('Remove')) expect((b as HTMLButtonElement).disabled).toBe(true);
  });

  it('shows a translated error', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (_: string, init: RequestInit) =>
        init.method === 'POST' ? json(404, { error: { code: 'user_not_found', message: 'no account has this email', field: 'email' } }) : json(200, { members }),
      ),
    );
    await i18n.changeLanguage('zh-CN');
    render(<ShareDialog canvasId="c1" title="Plan" myRole="owner" me={me} onClose={() => {}} />);
    await screen.findByText('bo@example.com');
    fireEvent.change(screen.getByTestId('share-email'), { target: { value: 'nobody@example.com' } });
    fireEvent.click(screen.getByTestId('share-add'));
    expect(await screen.findByRole('alert')).toHaveProperty('textContent', '没有使用该邮箱的账号。');
  });
});
