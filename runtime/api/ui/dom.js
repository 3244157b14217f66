// dom.js: building elements and saying things in words. Every value from
// the API goes into the page as text (never as markup), except the
// diagrams, which the API renders and escapes itself.

// h makes an element: h('a.link', {href: '#'}, 'text', child, ...).
// Attributes starting with "on" are event handlers; false and null skip.
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// replace swaps an element's children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const STATUSES = ['QUEUED', 'RUNNING', 'WAITING', 'PAUSED', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
export const ENDED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);

export function statusBadge(status) {
  return h('span.badge', {class: 'st-' + status, 'data-status': status}, status.replace('_', ' '));
}

// duration says a span of milliseconds briefly: 350 ms, 1.2 s, 2 m 5 s.
export function duration(ms) {
  if (!(ms >= 0)) return '';
  if (ms < 1000) return Math.round(ms) + ' ms';
  const s = ms / 1000;
  if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + ' s';
  const parts = [[86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']];
  let left = Math.round(s);
  const out = [];
  for (const [size, unit] of parts) {
    if (left >= size) {
      out.push(Math.floor(left / size) + ' ' + unit);
      left %= size;
    }
    if (out.length === 2) break;
  }
  return out.join(' ');
}

// when shows a time in the reader's zone, with the date only when it is
// not today.
export function when(t) {
  if (!t) return '';
  const d = new Date(t);
  const today = new Date();
  const time = d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit'});
  if (d.toDateString() === today.toDateString()) return time;
  return d.toLocaleDateString([], {month: 'short', day: 'numeric'}) + ' ' + time;
}

// relative says how far a time is from now: "in 3 m", "5 s ago".
export function relative(t) {
  const ms = new Date(t) - Date.now();
  return ms >= 0 ? 'in ' + duration(ms) : duration(-ms) + ' ago';
}

export function timeEl(t) {
  return t ? h('time', {datetime: t, title: t}, when(t)) : '';
}

// json shows a value as indented JSON.
export function json(v) {
  return h('pre.json', v === undefined ? 'none' : JSON.stringify(v, null, 2));
}

export function instanceLink(id) {
  return h('a.mono', {href: '#/instances/' + encodeURIComponent(id)}, id);
}

// waiting says in words what an instance waits for (SPEC 2.1's waiting).
export function waiting(w) {
  if (!w) return null;
  const until = w.until ? [' until ', timeEl(w.until), ' (' + relative(w.until) + ')'] : [];
  switch (w.kind) {
    case 'event':
      return ['Waiting for the event ', h('code', w.event), ...until, '. Send it to carry on.'];
    case 'timer':
      return ['Sleeping on a durable timer', ...until, '.'];
    case 'retry':
      return ['Will retry after ', h('code', w.error || 'an error'), ': attempt ' + w.attempt, ...(w.until ? [' at ', timeEl(w.until), ' (' + relative(w.until) + ')'] : []), '.'];
    case 'child':
      return ['Waiting for the child instance ', instanceLink(w.instance), ' to end.'];
    case 'concurrency':
      return ['Queued: the concurrency limit of key ', h('code', w.key), ' is reached; it starts when an earlier instance ends.'];
    case 'paused':
      return ['Paused by request. Resume it to carry on.'];
  }
  return ['Waiting (' + w.kind + ').'];
}

// waitingShort names what an instance waits for in a few words, for lists.
export function waitingShort(w) {
  switch (w.kind) {
    case 'event': return 'awaits ' + w.event;
    case 'timer': return 'timer, ' + relative(w.until);
    case 'retry': return 'retry ' + w.attempt + ' after ' + w.error;
    case 'child': return 'awaits a child';
    case 'concurrency': return 'queued on ' + w.key;
  }
  return w.kind;
}

// toast shows a short message in the corner for a few seconds.
export function toast(message, isError) {
  const box = document.getElementById('toasts');
  const t = h('div.toast', {class: isError ? 'error' : ''}, message);
  box.append(t);
  setTimeout(() => t.remove(), isError ? 8000 : 4000);
}

// confirmButton is a button that asks for a second click within a few
// seconds before it acts, instead of a blocking dialog.
export function confirmButton(label, armedLabel, act, cls = 'danger') {
  let timer = null;
  const b = h('button', {type: 'button', class: cls}, label);
  b.addEventListener('click', () => {
    if (!b.classList.contains('armed')) {
      b.classList.add('armed');
      b.textContent = armedLabel;
      timer = setTimeout(() => { b.classList.remove('armed'); b.textContent = label; }, 4000);
      return;
    }
    clearTimeout(timer);
    b.classList.remove('armed');
    b.textContent = label;
    act();
  });
  return b;
}
