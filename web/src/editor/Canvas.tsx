// The canvas: React Flow showing the SyncClient's doc. Geometry being
// dragged or resized lives in local overrides until the gesture ends; the
// doc (optimistic local changes included) is the truth otherwise.

import {
  Background,
  ConnectionMode,
  MarkerType,
  Controls,
  MiniMap,
  ReactFlow,
  SelectionMode,
  useReactFlow,
  useStore,
  type Connection as FlowConnection,
  type Edge,
  type EdgeChange,
  type NodeChange,
} from '@xyflow/react';
import { forwardRef, useCallback, useEffect, useImperativeHandle, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { AIProvider } from '../api/client';
import { cardData, imageCardSize, isImage, type FileInfo } from '../api/files';
import type { Peer, SyncClient } from '../sync/client';
import type { CanvasNode, NodeKind, Op } from '../sync/protocol';
import { capture, type Before, type UndoManager } from '../undo/undo';
import { CardNode, textField, type CardRFNode } from './CardNode';
import { clipboard, copy, pasteOps } from './clipboard';
import { EditorContext, type EditorApi } from './context';
import { Cursors } from './Cursors';
import { markClass, type CanvasPreview } from './history';
import { newId } from './ids';
import type { Uploads } from './useUploads';

const nodeTypes = { card: CardNode };

const arrow = { type: MarkerType.ArrowClosed, width: 16, height: 16, color: '#94a3b8' };

const minimapColors: Record<string, string> = { text: '#cbd5e1', note: '#fde68a', ai: '#c4b5fd', image: '#a7f3d0', file: '#bae6fd' };
const minimapColor = (n: CardRFNode) => minimapColors[n.data.node.kind] ?? '#cbd5e1';

/** How often positions are sent while dragging, so that others see the move. */
const dragSendMs = 100;

/** The sides of two cards that face each other: [source side, target side]. */
export function facingSides(s: { x: number; y: number }, t: { x: number; y: number }): [string, string] {
  const dx = t.x - s.x;
  const dy = t.y - s.y;
  if (Math.abs(dx) >= Math.abs(dy)) return dx >= 0 ? ['right', 'left'] : ['left', 'right'];
  return dy >= 0 ? ['bottom', 'top'] : ['top', 'bottom'];
}

export interface CanvasHandle {
  addCard(kind: NodeKind): void;
  /** Uploads files and adds a card for each (image or file) at the centre of the view. */
  addFiles(files: File[]): void;
  deleteSelection(): void;
  fitView(): void;
  selectedCount(): number;
}

interface Props {
  client: SyncClient;
  undo: UndoManager;
  canEdit: boolean;
  version: number;
  peers: Map<string, Peer>;
  /** The AI providers configured on the server (for the AI cards' model picker); null until known. */
  aiProviders?: AIProvider[] | null;
  onSelectionCount(n: number): void;
  /** The editor's uploads; without it, files cannot be dropped or pasted. */
  uploads?: Uploads;
  /** An earlier version to show instead of the live canvas (read-only; pass canEdit false). */
  preview?: CanvasPreview;
}

interface Override {
  x?: number;
  y?: number;
  w?: number;
  h?: number;
}

const sizes: Record<NodeKind, { w: number; h: number }> = {
  text: { w: 240, h: 120 },
  note: { w: 200, h: 160 },
  ai: { w: 280, h: 180 },
  image: { w: 240, h: 180 },
  file: { w: 240, h: 104 },
};

export const Canvas = forwardRef<CanvasHandle, Props>(function Canvas({ client, undo, canEdit, version, peers, aiProviders = null, onSelectionCount, uploads, preview }, ref) {
  const { t } = useTranslation();
  const flow = useReactFlow<CardRFNode>();
  // Level of detail: far out, cards are drawn as plain boxes (see styles.css).
  const lowDetail = useStore((s) => s.transform[2] < 0.35);
  const wrapper = useRef<HTMLDivElement>(null);
  const [selected, setSelected] = useState<Set<string>>(() => new Set());
  const [selectedEdges, setSelectedEdges] = useState<Set<string>>(() => new Set());
  const [overrides, setOverrides] = useState<Map<string, Override>>(() => new Map());
  const cache = useRef(new Map<string, { src: CanvasNode; sel: boolean; peer?: string; editable: boolean; mark?: string; rf: CardRFNode }>());
  const drag = useRef<{ before: Before; timer: ReturnType<typeof setInterval> | null; dirty: boolean } | null>(null);
  const resizeBefore = useRef<Before | null>(null);
  const pasteCount = useRef(0);
  // Fit the view at first only to a canvas with cards: fitting an empty
  // one would zoom onto the first card added.
  const [fitAtStart] = useState(() => client.doc.nodes.size > 0);

  // What is shown: the live canvas, or an earlier version while one is previewed.
  const doc = preview?.doc ?? client.doc;

  const api = useMemo<EditorApi>(() => ({ client, undo, canEdit, resizeBefore, aiProviders }), [client, undo, canEdit, aiProviders]);

  // Who else has which card selected: node id → the first peer's colour and name.
  const peerSel = useMemo(() => {
    const m = new Map<string, { color: string; name: string }>();
    for (const p of peers.values()) for (const id of p.selection) if (!m.has(id)) m.set(id, { color: p.color, name: p.name });
    return m;
  }, [peers]);

  const nodes = useMemo(() => {
    const out: CardRFNode[] = [];
    const seen = new Set<string>();
    for (const n of doc.nodes.values()) {
      seen.add(n.id);
      const sel = selected.has(n.id);
      const ov = overrides.get(n.id);
      const peer = preview ? undefined : peerSel.get(n.id);
      const mark = markClass(preview?.nodeMarks.get(n.id));
      const c = cache.current.get(n.id);
      if (c && !ov && c.src === n && c.sel === sel && c.peer === peer?.color && c.editable === canEdit && c.mark === mark) {
        out.push(c.rf);
        continue;
      }
      const w = ov?.w ?? n.w;
      const h = ov?.h ?? n.h;
      const rf: CardRFNode = {
        id: n.id,
        type: 'card',
        position: { x: ov?.x ?? n.x, y: ov?.y ?? n.y },
        width: w,
        height: h,
        measured: { width: w, height: h },
        zIndex: n.z,
        selected: sel,
        draggable: canEdit,
        connectable: canEdit,
        className: mark,
        data: { node: n, peer },
      };
      if (!ov) cache.current.set(n.id, { src: n, sel, peer: peer?.color, editable: canEdit, mark, rf });
      out.push(rf);
    }
    for (const id of cache.current.keys()) if (!seen.has(id)) cache.current.delete(id);
    // Cards added since the version previewed: drawn as ghosts from the live canvas.
    for (const n of preview?.ghostNodes ?? []) {
      out.push({
        id: n.id,
        type: 'card',
        position: { x: n.x, y: n.y },
        width: n.w,
        height: n.h,
        measured: { width: n.w, height: n.h },
        zIndex: n.z,
        selectable: false,
        draggable: false,
        connectable: false,
        className: 'diff-added is-ghost',
        data: { node: n },
      });
    }
    return out;
    // version: the doc changed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, selected, overrides, peerSel, canEdit, client, preview]);

  const edgeCache = useRef(new Map<string, Edge>());
  const edges = useMemo<Edge[]>(() => {
    const centre = (id: string) => {
      const n = doc.nodes.get(id) ?? preview?.ghostNodes.find((g) => g.id === id);
      const ov = overrides.get(id);
      if (!n) return { x: 0, y: 0 };
      return { x: (ov?.x ?? n.x) + (ov?.w ?? n.w) / 2, y: (ov?.y ?? n.y) + (ov?.h ?? n.h) / 2 };
    };
    const out: Edge[] = [];
    const next = new Map<string, Edge>();
    for (const e of [...doc.edges.values(), ...(preview?.ghostEdges ?? [])]) {
      const [sourceHandle, targetHandle] = facingSides(centre(e.source), centre(e.target));
      const selected = selectedEdges.has(e.id);
      const className = markClass(preview?.edgeMarks.get(e.id));
      const old = edgeCache.current.get(e.id);
      const rf =
        old && old.source === e.source && old.target === e.target && old.sourceHandle === sourceHandle && old.targetHandle === targetHandle && old.selected === selected && old.deletable === canEdit && old.className === className
          ? old
          : { id: e.id, source: e.source, target: e.target, sourceHandle, targetHandle, selected, deletable: canEdit, markerEnd: arrow, className };
      next.set(e.id, rf);
      out.push(rf);
    }
    edgeCache.current = next;
    return out;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, overrides, selectedEdges, canEdit, client, preview]);

  // Forget selections and overrides of cards that are gone.
  useEffect(() => {
    const prune = <T,>(s: Set<string> | Map<string, T>, has: (id: string) => boolean) => [...s.keys()].some((id) => !has(id));
    if (prune(selected, (id) => doc.nodes.has(id))) setSelected((s) => new Set([...s].filter((id) => doc.nodes.has(id))));
    if (prune(selectedEdges, (id) => doc.edges.has(id))) setSelectedEdges((s) => new Set([...s].filter((id) => doc.edges.has(id))));
  }, [version, doc, selected, selectedEdges]);

  // A selection in an earlier version is not shown to others.
  const previewing = preview !== undefined;
  useEffect(() => {
    client.setPresence({ selection: previewing ? [] : [...selected] });
    onSelectionCount(selected.size + selectedEdges.size);
  }, [selected, selectedEdges, client, onSelectionCount, previewing]);

  const onNodesChange = useCallback((changes: NodeChange<CardRFNode>[]) => {
    let sel: Set<string> | null = null;
    let ovs: Map<string, Override> | null = null;
    for (const c of changes) {
      if (c.type === 'select') {
        sel ??= new Set(selectedRef.current);
        if (c.selected) sel.add(c.id);
        else sel.delete(c.id);
      } else if (c.type === 'position' && c.position) {
        ovs ??= new Map(overridesRef.current);
        ovs.set(c.id, { ...ovs.get(c.id), x: c.position.x, y: c.position.y });
        if (drag.current) drag.current.dirty = true;
      } else if (c.type === 'dimensions' && c.resizing !== undefined && c.dimensions) {
        ovs ??= new Map(overridesRef.current);
        if (c.resizing) ovs.set(c.id, { ...ovs.get(c.id), w: c.dimensions.width, h: c.dimensions.height });
        else ovs.delete(c.id);
      }
    }
    if (sel) setSelected(sel);
    if (ovs) setOverrides(ovs);
  }, []);

  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  const overridesRef = useRef(overrides);
  overridesRef.current = overrides;

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    let sel: Set<string> | null = null;
    for (const c of changes) {
      if (c.type === 'select') {
        sel ??= new Set(selectedEdgesRef.current);
        if (c.selected) sel.add(c.id);
        else sel.delete(c.id);
      }
    }
    if (sel) setSelectedEdges(sel);
  }, []);
  const selectedEdgesRef = useRef(selectedEdges);
  selectedEdgesRef.current = selectedEdges;

  const positionsOf = (ids: Iterable<string>): Op[] => {
    const ops: Op[] = [];
    for (const id of ids) {
      const ov = overridesRef.current.get(id);
      const n = client.doc.nodes.get(id);
      if (!ov || !n || ov.x === undefined || ov.y === undefined) continue;
      const x = Math.round(ov.x);
      const y = Math.round(ov.y);
      if (x !== n.x || y !== n.y) ops.push({ op: 'node.update', id, set: { x, y } });
    }
    return ops;
  };

  const onNodeDragStart = useCallback(
    (_: unknown, __: unknown, dragged: CardRFNode[]) => {
      if (!canEdit) return;
      const ids = dragged.map((n) => n.id);
      const before = capture(
        ids.map((id): Op => ({ op: 'node.update', id })),
        client.doc,
      );
      const state = { before, dirty: false, timer: null as ReturnType<typeof setInterval> | null };
      state.timer = setInterval(() => {
        if (!state.dirty) return;
        state.dirty = false;
        const ops = positionsOf(ids);
        if (ops.length) client.submit(ops);
      }, dragSendMs);
      drag.current = state;
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [client, canEdit],
  );

  const onNodeDragStop = useCallback(
    (_: unknown, __: unknown, dragged: CardRFNode[]) => {
      const state = drag.current;
      drag.current = null;
      if (state?.timer) clearInterval(state.timer);
      const ids = dragged.map((n) => n.id);
      const ops = positionsOf(ids);
      const cbids = ops.length ? client.submit(ops) : [];
      if (state && cbids) undo.record(state.before, cbids);
      setOverrides((o) => {
        const next = new Map(o);
        for (const id of ids) next.delete(id);
        return next;
      });
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [client, undo],
  );

  const onConnect = useCallback(
    (c: FlowConnection) => {
      if (!canEdit || !c.source || !c.target || c.source === c.target) return;
      for (const e of client.doc.edges.values()) if (e.source === c.source && e.target === c.target) return;
      undo.apply([{ op: 'edge.add', id: newId('e'), source: c.source, target: c.target }]);
    },
    [client, undo, canEdit],
  );

  const topZ = () => {
    let z = 0;
    for (const n of client.doc.nodes.values()) z = Math.max(z, n.z);
    return z;
  };

  const centre = () => {
    const r = wrapper.current?.getBoundingClientRect();
    if (!r) return { x: 0, y: 0 };
    return flow.screenToFlowPosition({ x: r.left + r.width / 2, y: r.top + r.height / 2 });
  };

  const addCard = (kind: NodeKind, at?: { x: number; y: number }) => {
    if (!canEdit) return;
    const size = sizes[kind];
    const c = at ?? centre();
    const jitter = at ? 0 : (client.doc.nodes.size % 5) * 24;
    const id = newId('n');
    const x = Math.round(c.x - size.w / 2 + jitter);
    const y = Math.round(c.y - size.h / 2 + jitter);
    const data = { [textField(kind)]: '' };
    if (undo.apply([{ op: 'node.add', id, kind, x, y, w: size.w, h: size.h, z: topZ() + 1, data }])) {
      setSelected(new Set([id]));
      setSelectedEdges(new Set());
    }
  };

  /** Adds the card of an uploaded file, centred on c. */
  const addFileCard = (f: FileInfo, c: { x: number; y: number }) => {
    if (!canEdit) return;
    const image = isImage(f);
    const size = image ? imageCardSize(f.width, f.height) : sizes.file;
    const id = newId('n');
    const op: Op = {
      op: 'node.add',
      id,
      kind: image ? 'image' : 'file',
      x: Math.round(c.x - size.w / 2),
      y: Math.round(c.y - size.h / 2),
      w: size.w,
      h: size.h,
      z: topZ() + 1,
      data: { ...cardData(f) },
    };
    if (undo.apply([op])) {
      setSelected(new Set([id]));
      setSelectedEdges(new Set());
    }
  };

  /** Uploads files side by side (each with its progress bar), adding a card for each at `at` (the view's centre by default), 24 px apart. */
  const addFiles = (files: File[], at?: { x: number; y: number }) => {
    if (!canEdit || !uploads || files.length === 0) return;
    const jitter = at ? 0 : (client.doc.nodes.size % 5) * 24;
    const c0 = at ?? centre();
    const c = { x: c0.x + jitter, y: c0.y + jitter };
    files.forEach((file, i) => {
      void uploads.start(file).then((f) => {
        if (f) addFileCard(f, { x: c.x + i * 24, y: c.y + i * 24 });
      });
    });
  };
  const addFilesRef = useRef(addFiles);
  addFilesRef.current = addFiles;

  const deleteSelection = () => {
    if (!canEdit) return;
    const ops: Op[] = [];
    const gone = new Set<string>();
    for (const id of selectedRef.current) {
      if (client.doc.nodes.has(id)) {
        ops.push({ op: 'node.delete', id });
        for (const eid of client.doc.edgesOf(id)) gone.add(eid);
      }
    }
    for (const id of selectedEdgesRef.current) if (client.doc.edges.has(id) && !gone.has(id)) ops.push({ op: 'edge.delete', id });
    if (ops.length) undo.apply(ops);
    setSelected(new Set());
    setSelectedEdges(new Set());
  };

  useImperativeHandle(ref, () => ({
    addCard: (kind) => addCard(kind),
    addFiles: (files) => addFiles(files),
    deleteSelection,
    fitView: () => void flow.fitView({ padding: 0.2, duration: 200, maxZoom: 1 }),
    selectedCount: () => selectedRef.current.size + selectedEdgesRef.current.size,
  }));

  // Keyboard shortcuts, when no text field has the focus.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const el = e.target as HTMLElement | null;
      if (el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable)) return;
      if (document.querySelector('[role="dialog"]')) return;
      const mod = e.ctrlKey || e.metaKey;
      const k = e.key.toLowerCase();
      if ((e.key === 'Delete' || e.key === 'Backspace') && !mod) {
        e.preventDefault();
        deleteSelection();
      } else if (mod && k === 'z' && !e.shiftKey) {
        e.preventDefault();
        if (canEdit) undo.undo();
      } else if (mod && (k === 'y' || (k === 'z' && e.shiftKey))) {
        e.preventDefault();
        if (canEdit) undo.redo();
      } else if (mod && k === 'a') {
        e.preventDefault();
        setSelected(new Set(doc.nodes.keys()));
      } else if (mod && k === 'c') {
        if (selectedRef.current.size) copy(doc, selectedRef.current);
        pasteCount.current = 0;
      } else if (mod && k === 'x' && canEdit) {
        if (selectedRef.current.size) copy(client.doc, selectedRef.current);
        deleteSelection();
      } else if (mod && k === 'v' && canEdit) {
        const clip = clipboard();
        if (!clip || clip.nodes.length === 0) return;
        // The browser's paste event follows this key: when it carries files,
        // they are pasted instead of the copied cards (see onPaste).
        if (pendingPaste.current) clearTimeout(pendingPaste.current);
        pendingPaste.current = setTimeout(() => {
          pendingPaste.current = null;
          const step = 32 * ++pasteCount.current;
          const { ops, ids } = pasteOps(clip, step, step, topZ());
          if (undo.apply(ops)) setSelected(new Set(ids));
        }, 0);
      } else if (e.key === 'Escape') {
        setSelected(new Set());
        setSelectedEdges(new Set());
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  // Files pasted (a screenshot, a file copied in the file manager) are uploaded.
  const pendingPaste = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const el = e.target as HTMLElement | null;
      if (el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.isContentEditable)) return;
      const files = [...(e.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      e.preventDefault();
      if (pendingPaste.current) clearTimeout(pendingPaste.current);
      pendingPaste.current = null;
      addFilesRef.current(files);
    };
    document.addEventListener('paste', onPaste);
    return () => {
      document.removeEventListener('paste', onPaste);
      if (pendingPaste.current) clearTimeout(pendingPaste.current);
    };
  }, []);

  const hasFiles = (e: React.DragEvent) => [...e.dataTransfer.types].includes('Files');
  const onDragOver = (e: React.DragEvent) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = canEdit && uploads ? 'copy' : 'none';
  };
  const onDrop = (e: React.DragEvent) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    addFiles([...e.dataTransfer.files], flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
  };

  const onPointerMove = (e: React.PointerEvent) => {
    client.setPresence({ cursor: flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }) });
  };

  return (
    <EditorContext.Provider value={api}>
      <div
        className={`canvas${lowDetail ? ' lod-low' : ''}`}
        ref={wrapper}
        data-testid="canvas"
        onPointerMove={onPointerMove}
        onPointerLeave={() => client.setPresence({ cursor: null })}
        onDragOver={onDragOver}
        onDrop={onDrop}
        onDoubleClick={(e) => {
          if ((e.target as HTMLElement).classList.contains('react-flow__pane')) {
            addCard('text', flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
          }
        }}
      >
        <ReactFlow<CardRFNode>
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onNodeDragStart={onNodeDragStart}
          onNodeDragStop={onNodeDragStop}
          onSelectionDragStart={(e, ns) => onNodeDragStart(e, null, ns)}
          onSelectionDragStop={(e, ns) => onNodeDragStop(e, null, ns)}
          onConnect={onConnect}
          connectionMode={ConnectionMode.Loose}
          nodesDraggable={canEdit}
          nodesConnectable={canEdit}
          edgesReconnectable={false}
          elementsSelectable
          selectionMode={SelectionMode.Partial}
          deleteKeyCode={null}
          zoomOnDoubleClick={false}
          onlyRenderVisibleElements={!lowDetail}
          minZoom={0.05}
          maxZoom={4}
          fitView={fitAtStart}
          fitViewOptions={{ maxZoom: 1, padding: 0.2 }}
          defaultViewport={{ x: 0, y: 0, zoom: 1 }}
          proOptions={{ hideAttribution: true }}
        >
          <Background gap={24} />
          <MiniMap pannable zoomable nodeColor={minimapColor} nodeStrokeWidth={2} />
          <Controls showInteractive={false} />
          {!preview && <Cursors peers={peers} />}
        </ReactFlow>
        {uploads && uploads.items.length > 0 && (
          <div className="uploads" aria-live="polite">
            {uploads.items.map((u) => (
              <div key={u.key} className="upload" data-testid="upload-progress">
                <span className="upload-name">{t('editor.uploading', { name: u.name })}</span>
                <progress max={u.total || 1} value={u.loaded} aria-label={t('editor.uploading', { name: u.name })} />
              </div>
            ))}
          </div>
        )}
      </div>
    </EditorContext.Provider>
  );
});
