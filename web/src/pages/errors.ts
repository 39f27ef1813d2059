import type { TFunction } from 'i18next';
import { ApiError } from '../api/client';

/** A user-facing message for an API error, translated by its code when known. */
export function errorText(t: TFunction, err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'network') return t('errors.network');
    if (err.code === 'invalid_field' && err.field) return t('errors.invalid_field', { field: err.field, message: err.message });
    return t(`errors.${err.code}`, { defaultValue: t('errors.generic', { message: err.message }) });
  }
  return t('errors.generic', { message: err instanceof Error ? err.message : String(err) });
}
