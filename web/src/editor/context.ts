import { createContext, useContext } from 'react';
import type { AIProvider } from '../api/client';
import type { SyncClient } from '../sync/client';
import type { Before, UndoManager } from '../undo/undo';

/** What cards need from the editor: the canvas's client and undo, and whether changes are allowed. */
export interface EditorApi {
  client: SyncClient;
  undo: UndoManager;
  canEdit: boolean;
  /** Resize in progress: the values before, to record one undo entry at the end. */
  resizeBefore: { current: Before | null };
  /** The AI providers configured on the server; null until known. */
  aiProviders: AIProvider[] | null;
}

export const EditorContext = createContext<EditorApi | null>(null);

export function useEditor(): EditorApi {
  const api = useContext(EditorContext);
  if (!api) throw new Error('useEditor outside the editor');
  return api;
}
