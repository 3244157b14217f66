// instances.js: the list of instances, newest first, with filters by
// workflow, status and id, counts by status that follow the filters and
// refresh every few seconds, and paging through the API's cursor.

import {api} from './api.js';
import {h, replace, STATUSES, statusBadge, timeEl, duration, waitingShort, instanceLink} from './dom.js';

const REFRESH_MS = 3000;
const PAGE = 50;

// view renders the list into root; params are the route's query. It
// returns a function that stops its refreshing.
export function view(root, params, go) {
  const filters = {
    workflow: params.get('workflow') || '',
    version: params.get('version') || '',
    status: params.get('status') || '',
    id_contains: params.get('q') || '',
  };
  const cursor = params.get('cursor') || '';
  const back = params.getAll('back'); // cursors of earlier pages, for "newer"

  const route = (changes) => {
    const q = new URLSearchParams();
    const f = {...filters, ...changes};
    if (f.workflow) q.set('workflow', f.workflow);
    if (f.version) q.set('version', f.version);
    if (f.status) q.set('status', f.status);
    if (f.id_contains) q.set('q', f.id_contains);
    for (const b of f.back || []) q.append('back', b);
    if (f.cursor) q.set('cursor', f.cursor);
    go('#/instances' + (q.toString() ? '?' + q : ''));
  };

  const workflowSelect = h('select', {'aria-label': 'Workflow', onchange: () => route({workflow: workflowSelect.value, version: ''})},
    h('option', {value: ''}, 'All workflows'));
  const search = h('input', {type: 'search', placeholder: 'Search ids…', value: filters.id_contains, 'aria-label': 'Search ids'});
  let typing;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => route({id_contains: search.value.trim()}), 350);
  });
  const tabs = h('div.tabs', {role: 'tablist', 'aria-label': 'Status'});
  const body = h('div');
  const pager = h('div.pager');
  replace(root,
    h('div.row.spread', h('h1', 'Instances'),
      filters.version ? h('span.muted', 'version ', h('code', filters.version), ' ', h('a', {href: '#', onclick: (e) => { e.preventDefault(); route({version: ''}); }}, 'all versions')) : null),
    h('div.panel',
      h('div.filters', h('label.field', 'Workflow', workflowSelect), h('label.field.search', 'Id', search)),
      tabs, body, pager));

  api.workflows().then((w) => {
    for (const wf of w.workflows) workflowSelect.append(h('option', {value: wf.name}, wf.name));
    workflowSelect.value = filters.workflow;
  }).catch(() => {});

  const countFilters = {workflow: filters.workflow, version: filters.version, id_contains: filters.id_contains};
  async function loadCounts() {
    const c = await api.counts(countFilters);
    const tab = (status, label, n) => h('a.tab', {
      role: 'tab', href: '#', 'aria-selected': String(filters.status === status), class: filters.status === status ? 'active' : '',
      'data-status-tab': status || 'ALL',
      onclick: (e) => { e.preventDefault(); route({status}); },
    }, label, h('span.count', String(n)));
    replace(tabs, tab('', 'All', c.total),
      STATUSES.filter((s) => c.by_status[s] > 0 || s === filters.status).map((s) => tab(s, s.replace('_', ' '), c.by_status[s])));
  }

  async function loadList() {
    const list = await api.instances({...filters, limit: PAGE, cursor});
    if (!list.instances.length) {
      replace(body, h('div.empty', cursor ? 'No more instances.' : 'No instances match.'));
    } else {
      replace(body, table(list.instances));
    }
    replace(pager,
      back.length || cursor ? h('button', {type: 'button', onclick: () => route({back: back.slice(0, -1), cursor: back[back.length - 1] || ''})}, '← Newer') : null,
      list.next_cursor ? h('button', {type: 'button', 'data-next': '', onclick: () => route({back: [...back, cursor], cursor: list.next_cursor})}, 'Older →') : null);
  }

  let stopped = false;
  let timer;
  const tick = async () => {
    try {
      await Promise.all([loadCounts(), cursor ? null : loadList()]);
    } catch (e) {
      replace(body, h('div.empty.error', e.message));
    }
    if (!stopped) timer = setTimeout(tick, REFRESH_MS);
  };
  loadList().catch((e) => replace(body, h('div.empty.error', e.message)));
  tick();
  return () => { stopped = true; clearTimeout(timer); clearTimeout(typing); };
}

function table(instances) {
  return h('table.list',
    h('thead', h('tr', ['Id', 'Workflow', 'Status', 'State', 'Started', 'Took'].map((t) => h('th', t)))),
    h('tbody', instances.map((i) => h('tr', {'data-id': i.id},
      h('td.id', {'data-label': 'Id'}, instanceLink(i.id), i.parent ? h('div.small.muted', 'child of ', instanceLink(i.parent)) : null),
      h('td', {'data-label': 'Workflow'}, i.workflow, h('div.small.muted.mono', i.version.length > 14 ? i.version.slice(0, 12) + '…' : i.version)),
      h('td', {'data-label': 'Status'}, statusBadge(i.status)),
      h('td', {'data-label': 'State'}, i.state || '', i.waiting ? h('div.small.muted', waitingShort(i.waiting)) : null),
      h('td', {'data-label': 'Started'}, timeEl(i.started_at)),
      h('td', {'data-label': 'Took'}, duration((i.ended_at ? Date.parse(i.ended_at) : Date.now()) - Date.parse(i.started_at)))))));
}
