// The model picker of an AI card: "Default (provider · model)" and one
// option per configured provider and model (GET /api/v1/ai/providers,
// fetched once per editor). Choosing one sets data.provider and data.model;
// Default unsets both, so the server's defaults apply.

import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ai, type AIProvider } from '../api/client';
import type { CanvasNode, Op } from '../sync/protocol';
import { useEditor } from './context';

/** The value of the Default option. */
export const defaultChoice = '';

/** The option value of a provider and model (provider names hold no "/", model names may). */
export function choiceValue(provider: string, model: string): string {
  return `${provider}/${model}`;
}

/** The provider and model of an option value; null for Default. */
export function parseChoice(value: string): { provider: string; model: string } | null {
  if (value === defaultChoice) return null;
  const i = value.indexOf('/');
  return i < 0 ? { provider: value, model: '' } : { provider: value.slice(0, i), model: value.slice(i + 1) };
}

export interface ModelOption {
  value: string;
  provider: string;
  model: string;
  /** False for a card's choice the server no longer offers. */
  configured: boolean;
}

/**
 * The options after Default, and the value selected for a card's provider
 * and model. A card that sets only one of them selects what the server
 * resolves it to; a choice the server does not offer is kept as an extra
 * option so that the select shows it truthfully.
 */
export function modelOptions(providers: AIProvider[] | null, provider: string, model: string): { options: ModelOption[]; value: string } {
  const options: ModelOption[] = [];
  for (const p of providers ?? []) {
    for (const m of p.models) options.push({ value: choiceValue(p.name, m), provider: p.name, model: m, configured: true });
  }
  if (!provider && !model) return { options, value: defaultChoice };
  const prov = provider || providers?.[0]?.name || '';
  const mdl = model || providers?.find((p) => p.name === prov)?.default_model || '';
  const value = choiceValue(prov, mdl);
  if (!options.some((o) => o.value === value)) options.push({ value, provider: prov, model: mdl, configured: false });
  return { options, value };
}

/** The ops that make a card use a choice (null: the default). */
export function choiceOps(n: CanvasNode, choice: { provider: string; model: string } | null): Op[] {
  if (!choice) {
    const unset = ['provider', 'model'].filter((k) => n.data[k] !== undefined).map((k) => `data.${k}`);
    return unset.length ? [{ op: 'node.update', id: n.id, unset }] : [];
  }
  if (n.data.provider === choice.provider && n.data.model === choice.model) return [];
  return [{ op: 'node.update', id: n.id, set: { 'data.provider': choice.provider, 'data.model': choice.model } }];
}

/** The configured AI providers, fetched once (retried a few times if the server cannot be reached); null until known. */
export function useAIProviders(): AIProvider[] | null {
  const [providers, setProviders] = useState<AIProvider[] | null>(null);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = (attempt: number) => {
      ai.providers().then(
        (p) => live && setProviders(p),
        () => {
          // Unknown meanwhile: the picker offers the default only.
          if (live && attempt < 3) timer = setTimeout(() => load(attempt + 1), 5000 * attempt);
        },
      );
    };
    load(1);
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, []);
  return providers;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

export function ModelPicker({ node, running }: { node: CanvasNode; running: boolean }) {
  const { t } = useTranslation();
  const { undo, canEdit, aiProviders } = useEditor();
  const none = aiProviders !== null && aiProviders.length === 0;
  const { options, value } = modelOptions(aiProviders, str(node.data.provider), str(node.data.model));
  const first = aiProviders?.[0];
  const defaultLabel = first ? t('editor.aiModel.default', { provider: first.name, model: first.default_model }) : t('editor.aiModel.defaultUnknown');
  const label = (o: ModelOption) => {
    const name = o.model ? `${o.provider} · ${o.model}` : o.provider;
    return o.configured ? name : t('editor.aiModel.unavailable', { name });
  };
  const shown = none ? t('editor.aiModel.none') : value === defaultChoice ? defaultLabel : label(options.find((o) => o.value === value)!);
  return (
    <select
      className="ai-model nodrag"
      data-testid="ai-model"
      aria-label={t('editor.aiModel.label')}
      title={shown}
      value={none ? defaultChoice : value}
      disabled={none || !canEdit || running}
      onChange={(e) => {
        const ops = choiceOps(node, parseChoice(e.target.value));
        if (ops.length) undo.apply(ops);
      }}
    >
      {none ? (
        <option value={defaultChoice}>{t('editor.aiModel.none')}</option>
      ) : (
        <>
          <option value={defaultChoice}>{defaultLabel}</option>
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {label(o)}
            </option>
          ))}
        </>
      )}
    </select>
  );
}
