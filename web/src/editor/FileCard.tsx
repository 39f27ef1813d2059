// The bodies of image and file cards. An image is fetched with the access
// token and shown through an object URL (see api/files.ts); the card keeps
// the picture's aspect ratio (object-fit: contain). A file card shows the
// name, size and type, and Download saves it under its original name.

import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { downloadFile, fileURL, formatSize, type FileCardData } from '../api/files';
import { errorText } from '../pages/errors';

/** The object URL of a card's file, or the reason it cannot be shown. */
function useFileURL(canvasId: string, fileId: string, previewWidth?: number): { url?: string; error?: unknown } {
  const [state, setState] = useState<{ url?: string; error?: unknown; key: string }>({ key: '' });
  const key = `${canvasId}/${fileId}/${previewWidth ?? ''}`;
  useEffect(() => {
    let live = true;
    fileURL(canvasId, fileId, previewWidth).then(
      (url) => live && setState({ url, key }),
      (error: unknown) => live && setState({ error, key }),
    );
    return () => {
      live = false;
    };
  }, [canvasId, fileId, previewWidth, key]);
  return state.key === key ? state : {};
}

export function ImageBody({ canvasId, file }: { canvasId: string; file: FileCardData }) {
  const { t } = useTranslation();
  // A card is about 240 px wide: the 512 px preview is sharp on a HiDPI
  // screen and when the card is enlarged, and small to load.
  const { url, error } = useFileURL(canvasId, file.file, 512);
  if (error) {
    return (
      <div className="card-image-missing" data-testid="image-error">
        {t('editor.imageFailed', { name: file.name, reason: errorText(t, error) })}
      </div>
    );
  }
  if (!url) return <div className="card-image-loading">{t('editor.imageLoading')}</div>;
  return <img className="card-picture" src={url} alt={file.name} draggable={false} data-testid="card-image" />;
}

export function FileBody({ canvasId, file }: { canvasId: string; file: FileCardData }) {
  const { t } = useTranslation();
  const [error, setError] = useState('');
  return (
    <div className="card-file">
      <div className="card-file-name" data-testid="file-name" title={file.name}>
        {file.name || t('editor.unnamedFile')}
      </div>
      <div className="card-file-meta" data-testid="file-meta">
        {formatSize(file.size)}
        {file.type ? ` · ${file.type}` : ''}
      </div>
      <button
        type="button"
        className="nodrag"
        data-testid="file-download"
        onDoubleClick={(e) => e.stopPropagation()}
        onClick={(e) => {
          e.stopPropagation();
          setError('');
          downloadFile(canvasId, file.file, file.name).catch((err: unknown) => setError(errorText(t, err)));
        }}
      >
        {t('editor.download')}
      </button>
      {error && (
        <div className="card-file-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
