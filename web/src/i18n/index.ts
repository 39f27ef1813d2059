// i18n: English and Simplified Chinese, chosen from the saved choice or the
// browser's language, switchable at run time. Every UI text goes through t().

import i18n from 'i18next';
import LanguageDetector from 'i18next-browser-languagedetector';
import { initReactI18next } from 'react-i18next';
import { en } from './en';
import { zhCN } from './zh-CN';

export const languages = ['en', 'zh-CN'] as const;
export type Language = (typeof languages)[number];

void i18n
  .use(LanguageDetector)
  .use(initReactI18next)
  .init({
    resources: { en: { translation: en }, 'zh-CN': { translation: zhCN } },
    fallbackLng: 'en',
    supportedLngs: [...languages],
    // "zh", "zh-Hans", "zh-SG" … all map to zh-CN.
    nonExplicitSupportedLngs: false,
    load: 'currentOnly',
    detection: {
      order: ['localStorage', 'navigator'],
      lookupLocalStorage: 'sker.lang',
      caches: ['localStorage'],
      convertDetectedLanguage: (lng: string) => (lng.toLowerCase().startsWith('zh') ? 'zh-CN' : lng.split('-')[0]),
    },
    interpolation: { escapeValue: false },
    returnNull: false,
    showSupportNotice: false,
  });

i18n.on('languageChanged', (lng) => {
  document.documentElement.lang = lng;
});
document.documentElement.lang = i18n.resolvedLanguage ?? 'en';

/** Switches the UI language and remembers the choice. */
export function setLanguage(lng: Language): void {
  void i18n.changeLanguage(lng);
}

export { i18n };
