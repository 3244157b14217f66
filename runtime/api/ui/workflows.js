// workflows.js: every workflow of the current bundle with its diagram, the
// versions kept and how many instances each has (by status), and the
// problems of the last reload, each at its file:line.

import {api} from './api.js';
import {h, replace, STATUSES, statusBadge} from './dom.js';

const REFRESH_MS = 5000;

// view renders every workflow, or only the one named.
export function view(root, only) {
  const problems = h('div');
  const list = h('div');
  replace(root, h('div.row.spread', h('h1', only ? only : 'Workflows'), only ? h('a', {href: '#/workflows'}, 'All workflows') : null),
    problems, list);

  let shown = '';
  let stopped = false;
  let timer;
  async function refresh() {
    try {
      const [w, counts] = await Promise.all([api.workflows(), api.counts({workflow: only || ''})]);
      if (stopped) return;
      drawProblems(problems, w.errors);
      // Redraw the cards only when the bundle changed: diagrams are costly
      // and a reader may be scrolled into one.
      const key = JSON.stringify(w.workflows) + JSON.stringify(counts.groups);
      if (key !== shown) {
        shown = key;
        const wfs = w.workflows.filter((wf) => !only || wf.name === only);
        replace(list, wfs.length ? wfs.map((wf) => card(wf, counts.groups)) : h('div.panel.empty', only ? 'No workflow ' + only + ' in the current bundle.' : 'The bundle has no workflows.'));
      }
    } catch (e) {
      replace(list, h('div.panel.error', e.message));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}

// drawProblems lists what was wrong with the last reload; the running
// bundle stays the previous one until the sources load cleanly.
export function drawProblems(el, errors) {
  if (!errors || !errors.length) {
    replace(el);
    return;
  }
  replace(el, h('div.panel', {'data-problems': errors.length},
    h('h2.error', 'The last reload failed'),
    h('p.muted', 'The sidecar keeps running the previous bundle. Fix these and save: it reloads by itself.'),
    h('ul.problems', errors.map((p) => {
      const m = /^(.+?:\d+): ([\s\S]*)$/.exec(p);
      return h('li', m ? [h('span.where', m[1]), ': ', m[2]] : p);
    }))));
}

function card(wf, groups) {
  const mine = groups.filter((g) => g.workflow === wf.name);
  const diagram = h('div.diagram.fit', h('div.muted', 'Drawing…'));
  api.workflowGraph(wf.name).then((svg) => { diagram.innerHTML = svg; }) // rendered and escaped by the API
    .catch((e) => replace(diagram, h('p.error', e.message)));
  const versions = [...new Set([...(wf.versions || []), ...mine.map((g) => g.version)])];
  return h('section.panel', {'data-workflow': wf.name},
    h('div.row.spread',
      h('h2', wf.name),
      h('a', {href: '#/instances?workflow=' + encodeURIComponent(wf.name)}, 'Instances →')),
    h('div.small.muted', wf.states.length + ' states'),
    h('div.versions', versions.map((v) => {
      const of = mine.filter((g) => g.version === v);
      const n = of.reduce((a, g) => a + g.count, 0);
      const kept = (wf.versions || []).includes(v);
      return h('div.version', {class: v === wf.version ? 'current' : '', 'data-version': v},
        h('div', h('span.v', {title: v}, v.length > 16 ? v.slice(0, 12) + '…' : v),
          v === wf.version ? ' (current)' : kept ? '' : ' (no longer kept)'),
        h('a', {href: '#/instances?workflow=' + encodeURIComponent(wf.name) + '&version=' + encodeURIComponent(v)},
          n + (n === 1 ? ' instance' : ' instances')),
        h('div.row', STATUSES.map((s) => {
          const c = of.find((g) => g.status === s);
          return c ? [statusBadge(s), ' ', c.count] : null;
        })));
    })),
    diagram);
}
