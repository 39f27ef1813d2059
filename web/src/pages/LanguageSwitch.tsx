import { useTranslation } from 'react-i18next';
import { languages, setLanguage, type Language } from '../i18n';

/** A select for the UI language. */
export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  const current = (languages as readonly string[]).includes(i18n.resolvedLanguage ?? '') ? i18n.resolvedLanguage : 'en';
  return (
    <select
      className="lang"
      aria-label={t('lang.label')}
      value={current}
      onChange={(e) => setLanguage(e.target.value as Language)}
      data-testid="language"
    >
      <option value="en">{t('lang.en')}</option>
      <option value="zh-CN">{t('lang.zh')}</option>
    </select>
  );
}
