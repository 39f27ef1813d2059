// Routes: /login, /register, / (the canvas list), /c/:id (the editor).

import { useTranslation } from 'react-i18next';
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation } from 'react-router';
import { auth } from './api/client';
import { useSession } from './api/session';
import { AuthPage } from './pages/AuthPage';
import { CanvasList } from './pages/CanvasList';
import { EditorPage } from './pages/EditorPage';
import { LanguageSwitch } from './pages/LanguageSwitch';

export function App() {
  return (
    <BrowserRouter>
      <AppRoutes />
    </BrowserRouter>
  );
}

function AppRoutes() {
  const s = useSession();
  const loc = useLocation();
  if (!s) {
    return (
      <Routes>
        <Route path="/login" element={<AuthPage mode="login" />} />
        <Route path="/register" element={<AuthPage mode="register" />} />
        <Route path="*" element={<Navigate to={`/login${loc.pathname !== '/' ? `?next=${encodeURIComponent(loc.pathname)}` : ''}`} replace />} />
      </Routes>
    );
  }
  return (
    <Routes>
      <Route path="/c/:id" element={<EditorPage user={s.user} />} />
      <Route
        path="/"
        element={
          <Shell>
            <CanvasList user={s.user} />
          </Shell>
        }
      />
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}

function Shell({ children }: { children: React.ReactNode }) {
  const { t } = useTranslation();
  const s = useSession();
  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/" className="brand">
          {t('app.name')}
        </Link>
        <div className="spacer" />
        <span className="who" data-testid="who">
          {s?.user.name || s?.user.email}
        </span>
        <LanguageSwitch />
        <button type="button" onClick={() => void auth.logout()}>
          {t('auth.signOut')}
        </button>
      </header>
      {children}
    </div>
  );
}
