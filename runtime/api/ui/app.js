// app.js: the console's entry: routes (#/instances, #/instances/ID,
// #/workflows, #/workflows/NAME, #/plugins) to views, the token prompt,
// and the banner that shows a failed reload on every page.

import {api, onUnauthorized, setToken, token} from './api.js';
import {h, replace} from './dom.js';
import * as instances from './instances.js';
import * as instance from './instance.js';
import * as workflows from './workflows.js';
import * as plugins from './plugins.js';

const BANNER_MS = 3000;
const viewEl = document.getElementById('view');
let stop = () => {};

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  stop();
  const hash = location.hash.replace(/^#/, '') || '/instances';
  const [path, q] = hash.split('?');
  const params = new URLSearchParams(q || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === parts[0]);
  window.scrollTo(0, 0);
  switch (parts[0]) {
    case 'instances':
      stop = parts[1] ? instance.view(viewEl, parts.slice(1).join('/')) : instances.view(viewEl, params, go);
      document.title = (parts[1] ? parts[1] : 'Instances') + ' · Orbit';
      break;
    case 'workflows':
      stop = workflows.view(viewEl, parts[1] || '');
      document.title = (parts[1] || 'Workflows') + ' · Orbit';
      break;
    case 'plugins':
      stop = plugins.view(viewEl);
      document.title = 'Plugins · Orbit';
      break;
    default:
      stop = () => {};
      replace(viewEl, h('div.panel.empty', 'No such page. ', h('a', {href: '#/instances'}, 'Instances')));
  }
}

// The token prompt opens when the API answers 401: the sidecar runs with
// --token and this tab has none, or a wrong one.
const dialog = document.getElementById('token-dialog');
const tokenInput = document.getElementById('token-input');
const tokenError = document.getElementById('token-error');
const tokenButton = document.getElementById('token-button');
onUnauthorized(() => {
  tokenButton.hidden = false;
  if (dialog.open) return;
  tokenError.hidden = !token();
  tokenError.textContent = token() ? 'The sidecar refused that token.' : '';
  tokenInput.value = '';
  dialog.showModal();
});
document.getElementById('token-form').addEventListener('submit', () => {
  setToken(tokenInput.value.trim());
  route();
  banner();
});
tokenButton.addEventListener('click', () => {
  tokenInput.value = token();
  tokenError.hidden = true;
  dialog.showModal();
});

// banner says on every page when the last reload failed.
const bannerEl = document.getElementById('problems-banner');
async function banner() {
  try {
    const w = await api.workflows();
    bannerEl.hidden = !w.errors.length;
    if (w.errors.length) {
      replace(bannerEl, `The last reload of the scripts failed with ${w.errors.length} problem${w.errors.length === 1 ? '' : 's'}; the previous bundle keeps running. `,
        h('a', {href: '#/workflows'}, 'See them'));
    }
  } catch { /* the views report errors */ }
}

window.addEventListener('hashchange', route);
route();
banner();
setInterval(() => { if (!document.hidden) banner(); }, BANNER_MS);
