import { ReactFlowProvider } from '@xyflow/react';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { forgetFileURLs } from '../api/files';
import { session } from '../api/session';
import { i18n } from '../i18n';
import type { SyncClient } from '../sync/client';
import type { CanvasNode } from '../sync/protocol';
import type { UndoManager } from '../undo/undo';
import { CardNode, type CardRFNode } from './CardNode';
import { EditorContext, type EditorApi } from './context';

const fileId = 'cd'.repeat(32);

function renderCard(node: CanvasNode) {
  const client = { canvas: 'c1', on: () => () => {}, ai: new Map(), doc: { nodes: new Map() } } as unknown as SyncClient;
  const api: EditorApi = { client, undo: {} as UndoManager, canEdit: true, resizeBefore: { current: null }, aiProviders: [] };
  const props = { id: node.id, data: { node }, selected: false, type: 'card' } as unknown as Parameters<typeof CardNode>[0];
  render(
    <ReactFlowProvider>
      <EditorContext.Provider value={api}>
        <CardNode {...(props as CardRFNode & typeof props)} />
      </EditorContext.Provider>
    </ReactFlowProvider>,
  );
}

function node(kind: 'image' | 'file', data: Record<string, unknown>): CanvasNode {
  return { id: 'n1', kind, x: 0, y: 0, w: 240, h: 180, z: 1, data } as CanvasNode;
}

let fetchMock: ReturnType<typeof vi.fn>;
let created: Blob[];

beforeEach(async () => {
  await i18n.changeLanguage('en');
  session.set({ user: { id: 'u1', email: 'a@example.com', name: 'A', created_at: '' }, accessToken: 'tok', refreshToken: 'ref', expiresAt: Date.now() + 600_000 });
  forgetFileURLs();
  created = [];
  fetchMock = vi.fn(async () => new Response(new Blob(['bytes'], { type: 'image/png' }), { status: 200 }));
  vi.stubGlobal('fetch', fetchMock);
  URL.createObjectURL = (b: Blob | MediaSource) => {
    created.push(b as Blob);
    return `blob:test/${created.length}`;
  };
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  session.set(null);
});

describe('image card', () => {
  it("shows the picture's 512 px preview through an object URL fetched with the token", async () => {
    renderCard(node('image', { file: fileId, name: 'diagram.png', size: 2048, type: 'image/png', width: 640, height: 480 }));
    const img = (await screen.findByTestId('card-image')) as HTMLImageElement;
    expect(img.getAttribute('src')).toBe('blob:test/1');
    expect(img.alt).toBe('diagram.png');
    expect(fetchMock).toHaveBeenCalledWith(`/api/v1/canvases/c1/files/${fileId}/preview?width=512`, { headers: { Authorization: 'Bearer tok' } });
    expect(screen.getByTestId(`card-n1`).getAttribute('data-kind')).toBe('image');
  });

  it('says why when the file cannot be loaded', async () => {
    fetchMock.mockResolvedValue(new Response(JSON.stringify({ error: { code: 'not_found', message: 'no such file' } }), { status: 404 }));
    renderCard(node('image', { file: fileId, name: 'gone.png', size: 1, type: 'image/png', width: 1, height: 1 }));
    const err = await screen.findByTestId('image-error');
    expect(err.textContent).toBe('gone.png cannot be shown: Not found.');
  });

  it('is in Chinese too', async () => {
    await i18n.changeLanguage('zh-CN');
    fetchMock.mockResolvedValue(new Response('{}', { status: 404 }));
    renderCard(node('image', { file: fileId, name: 'gone.png', size: 1, type: 'image/png', width: 1, height: 1 }));
    expect((await screen.findByTestId('image-error')).textContent).toContain('无法显示 gone.png');
  });
});

describe('file card', () => {
  it('shows name, size and type, and downloads under the original name', async () => {
    renderCard(node('file', { file: fileId, name: 'report.pdf', size: 1536, type: 'application/pdf' }));
    expect(screen.getByTestId('file-name').textContent).toBe('report.pdf');
    expect(screen.getByTestId('file-meta').textContent).toBe('1.5 KB · application/pdf');
    expect(screen.queryByTestId('card-image')).toBeNull();
    expect(fetchMock).not.toHaveBeenCalled();

    const clicks: Array<{ href: string; download: string }> = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicks.push({ href: this.getAttribute('href') ?? '', download: this.download });
    });
    fireEvent.click(screen.getByTestId('file-download'));
    await waitFor(() => expect(clicks).toEqual([{ href: 'blob:test/1', download: 'report.pdf' }]));
    expect(fetchMock).toHaveBeenCalledWith(`/api/v1/canvases/c1/files/${fileId}`, { headers: { Authorization: 'Bearer tok' } });
    click.mockRestore();
  });

  it('shows the error when the download fails', async () => {
    fetchMock.mockResolvedValue(new Response(JSON.stringify({ error: { code: 'forbidden', message: 'no' } }), { status: 403 }));
    renderCard(node('file', { file: fileId, name: 'report.pdf', size: 10, type: 'application/pdf' }));
    fireEvent.click(screen.getByTestId('file-download'));
    expect((await screen.findByRole('alert')).textContent).toBe('You are not allowed to do this.');
  });

  it('says so when the card has no file', () => {
    renderCard(node('file', {}));
    expect(screen.getByText('No file')).toBeTruthy();
  });
});
