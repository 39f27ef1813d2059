import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AIProvider } from '../api/client';
import { session } from '../api/session';
import { i18n } from '../i18n';
import type { SyncClient } from '../sync/client';
import type { CanvasNode, Op } from '../sync/protocol';
import type { UndoManager } from '../undo/undo';
import { aiOmitted, aiUsage } from './CardNode';
import { EditorContext, type EditorApi } from './context';
import { ModelPicker, modelOptions, useAIProviders } from './ModelPicker';

const providers: AIProvider[] = [
  { name: 'openai', models: ['gpt-a', 'gpt-b'], default_model: 'gpt-a' },
  { name: 'anthropic', models: ['claude-x'], default_model: 'claude-x' },
];

function card(data: Record<string, unknown> = {}): CanvasNode {
  return { id: 'ai1', kind: 'ai', x: 0, y: 0, w: 280, h: 180, z: 1, data: { prompt: 'Why?', ...data } } as CanvasNode;
}

function renderPicker(opts: { node?: CanvasNode; canEdit?: boolean; running?: boolean; aiProviders?: AIProvider[] | null }) {
  const applied: Op[][] = [];
  const undo = { apply: vi.fn((ops: Op[]) => (applied.push(ops), ['cb1'])) } as unknown as UndoManager;
  const api: EditorApi = {
    client: {} as SyncClient,
    undo,
    canEdit: opts.canEdit ?? true,
    resizeBefore: { current: null },
    aiProviders: opts.aiProviders === undefined ? providers : opts.aiProviders,
  };
  render(
    <EditorContext.Provider value={api}>
      <ModelPicker node={opts.node ?? card()} running={opts.running ?? false} />
    </EditorContext.Provider>,
  );
  const select = screen.getByTestId('ai-model') as HTMLSelectElement;
  const options = () => [...select.options].map((o) => ({ value: o.value, text: o.textContent }));
  return { select, options, applied };
}

beforeEach(async () => {
  await i18n.changeLanguage('en');
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('ModelPicker', () => {
  it('offers Default and one option per provider and model', () => {
    const { select, options } = renderPicker({});
    expect(options()).toEqual([
      { value: '', text: 'Default (openai · gpt-a)' },
      { value: 'openai/gpt-a', text: 'openai · gpt-a' },
      { value: 'openai/gpt-b', text: 'openai · gpt-b' },
      { value: 'anthropic/claude-x', text: 'anthropic · claude-x' },
    ]);
    expect(select.value).toBe('');
    expect(select.disabled).toBe(false);
    expect(select.getAttribute('aria-label')).toBe('Model');
  });

  it('shows the card’s choice and sets provider and model when another is picked', () => {
    const { select, applied } = renderPicker({ node: card({ provider: 'openai', model: 'gpt-b' }) });
    expect(select.value).toBe('openai/gpt-b');
    fireEvent.change(select, { target: { value: 'anthropic/claude-x' } });
    expect(applied).toEqual([[{ op: 'node.update', id: 'ai1', set: { 'data.provider': 'anthropic', 'data.model': 'claude-x' } }]]);
  });

  it('unsets provider and model when Default is picked', () => {
    const { select, applied } = renderPicker({ node: card({ provider: 'anthropic', model: 'claude-x' }) });
    fireEvent.change(select, { target: { value: '' } });
    expect(applied).toEqual([[{ op: 'node.update', id: 'ai1', unset: ['data.provider', 'data.model'] }]]);
  });

  it('is disabled for viewers and while the card runs', () => {
    expect(renderPicker({ canEdit: false }).select.disabled).toBe(true);
    cleanup();
    expect(renderPicker({ running: true }).select.disabled).toBe(true);
  });

  it('says when no provider is configured, disabled, in both languages', async () => {
    let { select, options } = renderPicker({ aiProviders: [] });
    expect(options()).toEqual([{ value: '', text: 'No AI provider configured' }]);
    expect(select.disabled).toBe(true);
    cleanup();
    await i18n.changeLanguage('zh-CN');
    ({ select, options } = renderPicker({ aiProviders: [] }));
    expect(options()).toEqual([{ value: '', text: '未配置 AI 服务商' }]);
  });

  it('keeps a choice the server no longer offers, marked, and a generic Default until the providers are known', () => {
    const { select, options } = renderPicker({ node: card({ provider: 'openai', model: 'gpt-old' }) });
    expect(select.value).toBe('openai/gpt-old');
    expect(options().at(-1)).toEqual({ value: 'openai/gpt-old', text: 'openai · gpt-old (not configured)' });
    cleanup();
    const unknown = renderPicker({ aiProviders: null });
    expect(unknown.options()).toEqual([{ value: '', text: 'Default model' }]);
    expect(unknown.select.disabled).toBe(false);
  });
});

describe('modelOptions', () => {
  it('resolves a card that sets only a provider or only a model as the server does', () => {
    expect(modelOptions(providers, 'anthropic', '').value).toBe('anthropic/claude-x');
    expect(modelOptions(providers, '', 'gpt-b').value).toBe('openai/gpt-b');
    expect(modelOptions(providers, '', '').value).toBe('');
  });

  it('keeps model names with slashes whole', () => {
    const { options } = modelOptions([{ name: 'openai', models: ['meta/llama-3'], default_model: 'meta/llama-3' }], '', '');
    expect(options[0]).toMatchObject({ value: 'openai/meta/llama-3', provider: 'openai', model: 'meta/llama-3' });
  });
});

describe('useAIProviders', () => {
  it('fetches GET /api/v1/ai/providers once, with the session token', async () => {
    session.set({ user: { id: 'u1', email: 'a@example.com', name: 'A', created_at: '' }, accessToken: 'tok', refreshToken: 'ref', expiresAt: Date.now() + 600_000 });
    const fetch = vi.fn(async () => new Response(JSON.stringify({ providers }), { status: 200, headers: { 'Content-Type': 'application/json' } }));
    vi.stubGlobal('fetch', fetch);
    let seen: AIProvider[] | null = null;
    function Probe({ n }: { n: number }) {
      seen = useAIProviders();
      return <span>{n}</span>;
    }
    const { rerender } = render(<Probe n={1} />);
    await waitFor(() => expect(seen).toEqual(providers));
    rerender(<Probe n={2} />);
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/ai/providers');
    expect(init.method).toBe('GET');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok');
  });
});

describe('AI card details', () => {
  it('reads the usage and the cards left out, and words them', () => {
    expect(aiUsage({ ai_usage: { input: 12, output: 40 } })).toEqual({ input: 12, output: 40 });
    expect(aiUsage({ ai_usage: 'x' })).toBeNull();
    expect(aiUsage({})).toBeNull();
    expect(aiOmitted({ ai_context: { cards: 2, omitted: 3 } })).toBe(3);
    expect(aiOmitted({})).toBe(0);
    expect(i18n.t('editor.aiUsage', { input: 12, output: 40 })).toBe('12 → 40 tokens');
    expect(i18n.t('editor.aiOmitted', { count: 3 })).toBe('3 cards left out to fit the context');
    expect(i18n.t('editor.aiOmitted', { count: 1 })).toBe('1 card left out to fit the context');
  });
});
