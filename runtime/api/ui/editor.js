// editor.js: a JSON editor: a text area that checks what is typed as
// JSON, says where it is wrong, and formats it on demand.

import {h} from './dom.js';

// jsonEditor returns {el, value(), valid()}; value() is the text to send.
export function jsonEditor(initial = '{}', label = 'JSON') {
  const area = h('textarea', {spellcheck: 'false', 'aria-label': label, rows: 6});
  area.value = initial;
  const status = h('div.status');
  const el = h('div.editor', area, h('div.row.spread', status,
    h('button.link', {type: 'button', onclick: format}, 'Format')));

  function check() {
    const text = area.value.trim();
    if (text === '') {
      el.classList.remove('invalid');
      status.textContent = 'Empty: sends null.';
      return true;
    }
    try {
      JSON.parse(text);
      el.classList.remove('invalid');
      status.textContent = 'Valid JSON.';
      return true;
    } catch (e) {
      el.classList.add('invalid');
      status.textContent = 'Not JSON: ' + where(e, text);
      return false;
    }
  }

  function format() {
    if (!check() || area.value.trim() === '') return;
    area.value = JSON.stringify(JSON.parse(area.value), null, 2);
  }

  area.addEventListener('input', check);
  area.addEventListener('keydown', (e) => {
    if (e.key === 'Tab' && !e.shiftKey) { // indent instead of leaving the field
      e.preventDefault();
      area.setRangeText('  ', area.selectionStart, area.selectionEnd, 'end');
      check();
    }
  });
  check();
  return {el, value: () => area.value.trim(), valid: check};
}

// where turns a parse error into "line L, column C: message" when the
// browser gives a position.
function where(err, text) {
  const m = /position (\d+)/.exec(err.message);
  if (!m) return err.message;
  const pos = Number(m[1]);
  const before = text.slice(0, pos).split('\n');
  return 'line ' + before.length + ', column ' + (before[before.length - 1].length + 1) + ': ' +
    err.message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '');
}
