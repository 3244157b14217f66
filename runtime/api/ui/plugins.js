// plugins.js: the loaded WebAssembly plugins with their routines, hooks
// and limits.

import {api} from './api.js';
import {h, replace} from './dom.js';

export function view(root) {
  const list = h('div', h('p.muted', 'Loading…'));
  replace(root, h('h1', 'Plugins'), list);
  api.plugins().then(({plugins}) => {
    if (!plugins.length) {
      replace(list, h('div.panel.empty', 'No plugins are loaded. Put one folder per plugin in the plugins directory (--plugins).'));
      return;
    }
    replace(list, plugins.map((p) => h('section.panel', {'data-plugin': p.name},
      h('div.row.spread', h('h2', p.name), h('span.muted.small', p.kind || '')),
      h('dl.kv',
        h('dt', 'Module'), h('dd.mono', p.module),
        h('dt', 'Routines'), h('dd', Object.keys(p.routines).length
          ? Object.entries(p.routines).map(([r, f]) => h('div', h('code', r), ' → ', h('span.mono.muted', f)))
          : h('span.muted', 'none')),
        h('dt', 'Hooks'), h('dd', p.hooks.length
          ? p.hooks.map((k) => h('div', h('code', k.workflow), ' on ', h('code', k.on), k.state ? [' in ', h('code', k.state)] : '', ' → ', h('span.mono.muted', k.func)))
          : h('span.muted', 'none')),
        h('dt', 'Allowed hosts'), h('dd', p.allowed_hosts.length ? p.allowed_hosts.map((x) => h('div.mono', x)) : h('span.muted', 'none: no network')),
        h('dt', 'Memory'), h('dd', p.memory_limit || 'default'),
        h('dt', 'Timeout'), h('dd', p.timeout || 'default')))));
  }).catch((e) => replace(list, h('div.panel.error', e.message)));
  return () => {};
}
