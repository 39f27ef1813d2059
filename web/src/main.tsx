import { createRoot } from 'react-dom/client';
import '@xyflow/react/dist/style.css';
import './styles.css';
import './i18n';
import { App } from './App';
import { registerServiceWorker } from './offline/register';

// No StrictMode: its double-run effects would open and drop every canvas
// connection twice in development.
createRoot(document.getElementById('root')!).render(<App />);
registerServiceWorker();
