// instance.js: one instance: its diagram with the path taken, where it is
// and why, its input and output, its history as a timeline of steps with
// their durations and attempts, its children, and the controls: send an
// event, cancel, pause, resume, redrive and migrate (after a dry run).

import {api} from './api.js';
import {h, replace, ENDED, statusBadge, timeEl, duration, json, waiting, waitingShort, instanceLink, toast, confirmButton} from './dom.js';
import {jsonEditor} from './editor.js';
import {steps, span} from './timeline.js';

const REFRESH_MS = 2000;
// After an action the page looks again soon, for a few seconds, so that
// the change shows as soon as the engine has made it.
const SOON_MS = 200, SOON_FOR_MS = 3000;

export function view(root, id) {
  const head = h('div');
  const actions = h('div.actions');
  const forms = h('div');
  // A phone shows the whole diagram shrunk to fit; a wider screen at its
  // size. The button swaps.
  const diagram = h('div.diagram', {class: matchMedia('(max-width: 640px)').matches ? 'fit' : ''}, h('div.muted', 'Drawing…'));
  const io = h('div.grid2');
  const children = h('div');
  const timeline = h('ol.timeline');
  const other = h('div.small.muted');
  replace(root,
    h('div.panel', head, actions, forms),
    h('div.grid-main',
      h('div',
        h('div.panel', h('div.row.spread', h('h2', 'Diagram'),
          h('button.link', {type: 'button', onclick: () => diagram.classList.toggle('fit')}, 'Fit / full size')), diagram),
        h('div.panel', io),
        children),
      h('div.panel', h('h2', 'Timeline'), timeline, other)));

  let inst = null;
  let seen = '';            // updated_at of what is drawn
  let selected = null;      // state picked in the diagram
  const open = new Set();   // indices of expanded steps
  let stopped = false;
  let timer;
  let soonUntil = 0;
  let drawings = 0;          // the latest diagram asked for wins

  const controls = buildControls(id, () => inst, (sent) => {
    seen = '';
    soonUntil = Date.now() + SOON_FOR_MS;
    refresh();
    if (sent) toast(sent);
  });
  replace(actions, controls.buttons);
  replace(forms, controls.forms);

  async function refresh() {
    clearTimeout(timer);
    try {
      const next = await api.instance(id);
      if (stopped) return;
      inst = next;
      controls.update(inst);
      if (inst.updated_at !== seen) {
        const hist = await api.history(id);
        if (stopped) return;
        drawHead();
        drawIO();
        drawTimeline(hist.events);
        // The diagram follows on its own: a version whose sources no longer
        // compile has none, and that must not stop the rest of the page.
        const drawing = ++drawings;
        api.instanceGraph(id).then((svg) => { if (drawing === drawings && !stopped) drawDiagram(svg); },
          (e) => { if (drawing === drawings) replace(diagram, h('p.error', 'No diagram: ' + e.message)); });
        seen = inst.updated_at;
      }
    } catch (e) {
      if (!inst) replace(head, h('h1', id), h('p.error', e.status === 404 ? 'No such instance (it may have been purged after its retention).' : e.message));
    }
    if (!stopped && !(inst && ENDED.has(inst.status) && seen === inst.updated_at)) {
      timer = setTimeout(refresh, Date.now() < soonUntil ? SOON_MS : REFRESH_MS);
    }
  }

  function drawHead() {
    const took = (inst.ended_at ? Date.parse(inst.ended_at) : Date.now()) - Date.parse(inst.started_at);
    replace(head,
      h('div.head', h('h1', {'data-instance': inst.id}, inst.id), statusBadge(inst.status)),
      h('dl.facts',
        fact('Workflow', h('a', {href: '#/workflows/' + encodeURIComponent(inst.workflow)}, inst.workflow)),
        fact('Version', h('span.mono', {title: inst.version}, inst.version.length > 16 ? inst.version.slice(0, 12) + '…' : inst.version)),
        fact('State', inst.state || '—'),
        fact('Started', timeEl(inst.started_at)),
        fact(inst.ended_at ? 'Ended' : 'Updated', timeEl(inst.ended_at || inst.updated_at)),
        fact(inst.ended_at ? 'Took' : 'Running for', duration(took)),
        inst.parent ? fact('Parent', instanceLink(inst.parent)) : null),
      inst.waiting ? h('div.waiting', {'data-waiting': inst.waiting.kind}, waiting(inst.waiting)) : null,
      inst.error ? h('div.failure', h('strong', h('code', inst.error)), inst.cause ? ': ' + inst.cause : '') : null);
  }

  function drawDiagram(svg) {
    diagram.innerHTML = svg; // rendered and escaped by the API
    for (const g of diagram.querySelectorAll('g.node[data-state]')) {
      g.addEventListener('click', () => select(g.dataset.machine ? null : g.dataset.state, g));
    }
    mark();
  }

  function select(state, g) {
    selected = selected === state ? null : state;
    mark();
    if (!state && g) toast('That state runs in a branch or map item: its steps are in the child instances.');
    const first = timeline.querySelector('.step.selected');
    if (first) first.scrollIntoView({block: 'nearest', behavior: 'smooth'});
  }

  function mark() {
    for (const g of diagram.querySelectorAll('g.node[data-state]')) {
      g.classList.toggle('selected', selected !== null && !g.dataset.machine && g.dataset.state === selected);
    }
    for (const li of timeline.children) li.classList.toggle('selected', selected !== null && li.dataset.state === selected);
  }

  function drawIO() {
    replace(io,
      h('div', h('h3', 'Input'), json(inst.input)),
      h('div', h('h3', ENDED.has(inst.status) ? 'Output' : 'Output (when it ends)'), inst.output !== undefined ? json(inst.output) : h('p.muted', 'none yet')));
  }

  function drawTimeline(events) {
    const {steps: ss, other: rest} = steps(events, inst);
    const {start, end} = span(events, inst);
    const total = end - start;
    replace(timeline, ss.map((s, i) => stepItem(s, i, start, total)));
    const kids = [...new Set(ss.flatMap((s) => s.children))];
    drawChildren(kids);
    replace(other, rest.filter((e) => e.type === 'Migrated' || e.type === 'ObserverFailed').map((e) =>
      h('div', timeEl(e.time), ' ', e.type, e.type === 'Migrated' ? ` from ${e.from_version} to ${e.to_version}` : `: ${e.error || ''} ${e.cause || ''}`)));
    mark();
  }

  function stepItem(s, i, start, total) {
    const t0 = Date.parse(s.start);
    const t1 = s.end ? Date.parse(s.end) : Date.now();
    const detail = h('div.detail', {hidden: !open.has(i)});
    const li = h('li.step', {class: s.outcome, 'data-state': s.state, 'data-outcome': s.outcome},
      h('button.summary', {type: 'button', 'aria-expanded': String(open.has(i)), onclick: () => {
        if (open.has(i)) open.delete(i); else open.add(i);
        detail.hidden = !open.has(i);
        if (!detail.hidden && !detail.childElementCount) fillDetail(detail, s);
      }},
        h('span.dot', {title: s.outcome}),
        h('span.name', s.state),
        h('span.took', {'data-took': ''}, s.end ? duration(t1 - t0) : duration(t1 - t0) + ' so far'),
        h('span.bar', h('span', {style: bar(t0 - start, t1 - t0, total)})),
        h('span.meta',
          h('span', timeEl(s.start)),
          s.attempts > 1 ? h('span', {'data-attempts': s.attempts}, s.attempts + ' attempts') : null,
          s.errors.length ? h('span.error', s.errors[s.errors.length - 1].error) : null,
          s.children.length ? h('span', s.children.length + (s.children.length === 1 ? ' child' : ' children')) : null,
          s.outcome === 'current' && inst.waiting ? h('span', waitingShort(inst.waiting)) : null)),
      detail);
    if (open.has(i)) fillDetail(detail, s);
    return li;
  }

  async function drawChildren(ids) {
    if (!ids.length) {
      replace(children);
      return;
    }
    const list = h('table.list');
    replace(children, h('div.panel', h('h2', 'Children'), list));
    // One listing finds the children with their status: their ids start
    // with this instance's.
    let byId = new Map();
    try {
      const found = await api.instances({id_contains: id + ':', limit: 1000});
      byId = new Map(found.instances.filter((c) => c.parent === id).map((c) => [c.id, c]));
    } catch { /* the ids alone still link */ }
    replace(list, h('tbody', ids.map((c) => {
      const ch = byId.get(c);
      return h('tr', h('td.id', instanceLink(c)), h('td', ch ? statusBadge(ch.status) : ''), h('td', ch ? ch.workflow : ''), h('td', ch ? ch.state || '' : ''));
    })));
  }

  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}

function fact(label, value) {
  return [h('div', h('dt', label), h('dd', value))];
}

// bar places a step on the instance's span, in percent of it.
function bar(offset, length, total) {
  const left = Math.max(0, Math.min(100, (offset / total) * 100));
  const width = Math.max(0, Math.min(100 - left, (length / total) * 100));
  return `left:${left.toFixed(2)}%;width:${width.toFixed(2)}%`;
}

// fillDetail lists a step's events, its input and output, and its children.
function fillDetail(el, s) {
  const t0 = Date.parse(s.start);
  replace(el,
    h('table.events', h('tbody', s.events.map((e) => h('tr',
      h('td', '+' + duration(Date.parse(e.time) - t0)),
      h('td', e.type, e.attempt ? ' #' + e.attempt : '',
        e.error ? [' ', h('code.error', e.error), e.cause ? ': ' + e.cause : ''] : '',
        e.event ? [' ', h('code', e.event)] : '',
        e.delay_ms ? ` in ${duration(e.delay_ms)}` : '',
        e.child ? [' ', instanceLink(e.child)] : ''))))),
    h('div', h('h3', 'Input'), json(s.input)),
    s.output !== undefined ? h('div', h('h3', 'Output'), json(s.output)) : null);
}

// buildControls makes the action buttons and their forms once, so that a
// refresh does not wipe what is being typed; update enables what the
// instance's status allows.
function buildControls(id, current, done) {
  const fail = (e) => toast(e.message, true);
  const act = (action, label) => async () => {
    try {
      const r = await api.control(id, action);
      done(`${label}: ${r.status || 'accepted'}`);
    } catch (e) { fail(e); }
  };

  // Send an event.
  const eventName = h('input', {placeholder: 'event name', 'aria-label': 'Event name', required: true});
  const payload = jsonEditor('{}', 'Event payload');
  const sendForm = h('form.form', {hidden: true, 'data-form': 'send', onsubmit: async (e) => {
    e.preventDefault();
    if (!eventName.value.trim() || !payload.valid()) return;
    try {
      await api.send(id, eventName.value.trim(), payload.value());
      done(`Event ${eventName.value.trim()} sent`);
    } catch (err) { fail(err); }
  }}, h('label.field', 'Event', eventName), h('label.field', 'Payload (JSON)', payload.el),
  h('div.row', h('button.primary', {type: 'submit'}, 'Send event')));

  // Migrate: a dry run first; the real move only once it says yes.
  const version = h('select', {'aria-label': 'Target version'});
  const verdict = h('p.small');
  const doMigrate = h('button.primary', {type: 'button', disabled: true}, 'Migrate');
  let approved = '';
  version.addEventListener('change', () => { approved = ''; doMigrate.disabled = true; replace(verdict); });
  const dry = h('button', {type: 'button', onclick: async () => {
    approved = '';
    doMigrate.disabled = true;
    try {
      const m = await api.migrate(id, version.value, true);
      approved = version.value;
      doMigrate.disabled = false;
      replace(verdict, `Dry run: would move to ${m.to_version}, state ${m.state}.`);
    } catch (e) {
      replace(verdict, h('span.error', 'Dry run: cannot move: ' + ((e.body && e.body.reason) || e.message)));
    }
  }}, 'Dry run');
  doMigrate.addEventListener('click', async () => {
    if (approved !== version.value) return;
    try {
      const m = await api.migrate(id, approved, false);
      done(`Migrated to ${m.to_version}, state ${m.state}`);
      replace(verdict);
      doMigrate.disabled = true;
    } catch (e) {
      replace(verdict, h('span.error', 'Not moved: ' + ((e.body && e.body.reason) || e.message)));
    }
  });
  const migrateForm = h('div.form', {hidden: true, 'data-form': 'migrate'},
    h('div.row', h('label.field', 'To version', version), dry, doMigrate), verdict);

  const toggle = (form, other) => () => { form.hidden = !form.hidden; other.hidden = true; };
  const b = {
    send: h('button', {type: 'button', 'data-action': 'send', onclick: toggle(sendForm, migrateForm)}, 'Send event…'),
    cancel: confirmButton('Cancel', 'Really cancel?', act('cancel', 'Cancelled')),
    pause: h('button', {type: 'button', 'data-action': 'pause', onclick: act('pause', 'Paused')}, 'Pause'),
    resume: h('button', {type: 'button', 'data-action': 'resume', onclick: act('resume', 'Resumed')}, 'Resume'),
    redrive: confirmButton('Redrive', 'Really redrive?', act('redrive', 'Redriven'), ''),
    migrate: h('button', {type: 'button', 'data-action': 'migrate', onclick: toggle(migrateForm, sendForm)}, 'Migrate…'),
  };
  b.cancel.dataset.action = 'cancel';
  b.redrive.dataset.action = 'redrive';

  let versionsFor = '';
  return {
    buttons: Object.values(b),
    forms: [sendForm, migrateForm],
    update(inst) {
      const ended = ENDED.has(inst.status);
      b.send.disabled = b.cancel.disabled = b.migrate.disabled = ended;
      b.pause.disabled = !['RUNNING', 'WAITING', 'QUEUED'].includes(inst.status);
      b.resume.disabled = inst.status !== 'PAUSED';
      b.redrive.disabled = !['FAILED', 'TIMED_OUT'].includes(inst.status);
      if (ended) sendForm.hidden = migrateForm.hidden = true;
      if (inst.waiting && inst.waiting.kind === 'event' && !eventName.value) eventName.value = inst.waiting.event;
      if (versionsFor !== inst.workflow + '@' + inst.version) {
        versionsFor = inst.workflow + '@' + inst.version;
        api.workflow(inst.workflow).then((w) => {
          replace(version, w.versions.filter((v) => v !== inst.version).map((v) => h('option', {value: v}, v)));
          if (!version.options.length) replace(verdict, h('span.muted', 'No other version is kept.'));
        }).catch(() => replace(version));
      }
    },
  };
}
