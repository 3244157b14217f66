// timeline.js: an instance's history read as steps: one per visit of a
// state, with when it began and ended, its attempts, errors, children and
// how it went.

const STEP_OF = {
  TaskScheduled: true, TaskSucceeded: true, TaskFailed: true, TaskRetryScheduled: true, ErrorCaught: true,
  StateExited: true, TimerStarted: true, TimerFired: true, EventAwaited: true, EventReceived: true,
  ChildStarted: true, ChildCompleted: true,
};

// Outcomes of a step.
export const OK = 'ok', CURRENT = 'current', FAILED = 'failed', CAUGHT = 'caught', RETRIED = 'retried', CANCELLED = 'cancelled';

// steps reads the events of one instance (in order) into steps. inst is
// the instance now: its last step runs on while it has not ended.
export function steps(events, inst) {
  const out = [];
  const other = []; // events outside any step: start, migrations, observer failures
  let cur = null;
  const close = (t, outcome) => {
    if (cur && !cur.end) {
      cur.end = t;
      if (outcome) cur.outcome = outcome;
    }
  };
  for (const ev of events) {
    if (ev.type === 'StateEntered') {
      close(ev.time);
      cur = {state: ev.state, start: ev.time, end: null, attempts: 1, outcome: OK, errors: [], children: [],
        input: ev.input, output: undefined, events: [ev], retried: false};
      out.push(cur);
      continue;
    }
    if (cur && STEP_OF[ev.type]) {
      cur.events.push(ev);
      switch (ev.type) {
        case 'TaskScheduled':
          cur.attempts = Math.max(cur.attempts, ev.attempt || 1);
          break;
        case 'TaskFailed':
          cur.errors.push(ev);
          break;
        case 'TaskRetryScheduled':
          cur.retried = true;
          break;
        case 'ErrorCaught':
          cur.outcome = CAUGHT;
          break;
        case 'ChildStarted':
          if (ev.child) cur.children.push(ev.child);
          break;
        case 'StateExited':
          cur.output = ev.output;
          close(ev.time);
          break;
      }
      continue;
    }
    switch (ev.type) {
      case 'ExecutionFailed':
      case 'ExecutionTimedOut':
        if (cur) { // the state failed, or was a fail state: either way it ended the instance
          cur.events.push(ev);
          cur.errors.push(ev);
          close(ev.time);
          cur.outcome = FAILED;
        }
        break;
      case 'ExecutionCancelled':
        if (cur) {
          cur.events.push(ev);
          close(ev.time, CANCELLED);
        }
        break;
      case 'ExecutionSucceeded':
        close(ev.time);
        break;
    }
    other.push(ev);
  }
  for (const s of out) {
    if (s.outcome === OK && s.retried) s.outcome = RETRIED;
  }
  if (cur && !cur.end) {
    if (inst && ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(inst.status)) {
      cur.end = inst.ended_at || inst.updated_at;
    } else {
      cur.outcome = CURRENT;
    }
  }
  return {steps: out, other};
}

// span is the time an instance covers: from its first event to its end,
// or to now while it runs.
export function span(events, inst) {
  const start = events.length ? Date.parse(events[0].time) : Date.parse(inst.started_at);
  const end = inst.ended_at ? Date.parse(inst.ended_at) : Date.now();
  return {start, end: Math.max(end, start + 1)};
}
