-- The crash test's workflows. Every task calls the test's downstream, which
-- answers {n = n + 1} for a body {n = ...} and records the call with its
-- Idempotency-Key; n names the visit the call belongs to, so that two calls
-- of one visit can be told from calls of two visits. The first calls of a
-- key may answer 503: every task retries them.

local function retry()
  return { { errors = { "Http.503" }, max_attempts = 3, interval = "50ms", backoff = 1.5 } }
end

routine "step"  { http = { method = "POST", url = "${CRASH_DOWNSTREAM}/step", timeout = "10s" } }
routine "enter" { http = { method = "POST", url = "${CRASH_DOWNSTREAM}/enter", timeout = "10s" } }
routine "leave" { http = { method = "POST", url = "${CRASH_DOWNSTREAM}/leave", timeout = "10s" } }
routine "refuse" { http = { method = "POST", url = "${CRASH_DOWNSTREAM}/refuse", timeout = "10s" } }

-- A loop of tasks: Step runs `rounds` times, visit k with n = k - 1.
workflow "chain" {
  start = "Step",
  states = {
    Step  = task { routine = "step", input = function(d) return { n = d.n } end, result = "$.step", retry = retry(), next = "More" },
    More  = choice { { when = function(d) return d.step.n < d.rounds end, next = "Again" }, default = "Done" },
    Again = pass { input = function(d) return { n = d.step.n, rounds = d.rounds } end, next = "Step" },
    Done  = succeed { output = function(d) return { n = d.step.n } end },
  },
}

-- A durable timer between two tasks.
workflow "nap" {
  start = "First",
  states = {
    First  = task { routine = "step", input = function(d) return { n = 0 } end, result = "$.a", retry = retry(), next = "Nap" },
    Nap    = wait { duration = "300ms", next = "Second" },
    Second = task { routine = "step", input = function(d) return { n = d.a.n } end, result = "$.b", retry = retry(), next = "Done" },
    Done   = succeed { output = function(d) return { n = d.b.n } end },
  },
}

-- Two awaits: the test sends "early" as soon as the start is answered
-- (while First and Nap run, so it is kept), and "late" once the instance
-- waits for it.
workflow "approval" {
  start = "First",
  states = {
    First  = task { routine = "step", input = function(d) return { n = 0 } end, result = "$.a", retry = retry(), next = "Nap" },
    Nap    = wait { duration = "200ms", next = "Early" },
    Early  = await { event = "early", timeout = "1h", result = "$.early", next = "Second" },
    Second = task { routine = "step", input = function(d) return { n = d.a.n } end, result = "$.b", retry = retry(), next = "Late" },
    Late   = await { event = "late", timeout = "1h", result = "$.late", next = "Done" },
    Done   = succeed { output = function(d) return { n = d.b.n, early = d.early, late = d.late } end },
  },
}

-- Parallel branches, then a map over the input's items, two at a time.
workflow "fanout" {
  start = "Both",
  states = {
    Both = parallel {
      branches = {
        { start = "L", states = { L = task { routine = "step", input = function(d) return { n = d.n } end, retry = retry() } } },
        { start = "R", states = {
          R    = task { routine = "step", input = function(d) return { n = d.n + 10 } end, retry = retry(), next = "RNap" },
          RNap = wait { duration = "100ms" },
        } },
      },
      result = "$.both",
      next = "Each",
    },
    Each = map {
      items = "$.items",
      max_concurrency = 2,
      iterator = { start = "I", states = { I = task { routine = "step", input = function(d) return { n = d } end, retry = retry() } } },
      result = "$.each",
      next = "Done",
    },
    Done = succeed { output = function(d) return { both = d.both, each = d.each } end },
  },
}

-- A child workflow, then a task on its output.
workflow "parent" {
  start = "Child",
  states = {
    Child = call { workflow = "chain", result = "$.child", next = "After" },
    After = task { routine = "step", input = function(d) return { n = d.child.n } end, result = "$.after", retry = retry(), next = "Done" },
    Done  = succeed { output = function(d) return { n = d.after.n } end },
  },
}

-- One instance per key at a time: the downstream checks that no two
-- instances of a key are ever between Enter and Leave together.
workflow "serial" {
  start = "Enter",
  concurrency = { key = "$.key", limit = 1 },
  states = {
    Enter = task { routine = "enter", input = function(d) return { key = d.key, n = 0 } end, result = "$.a", retry = retry(), next = "Hold" },
    Hold  = wait { duration = "150ms", next = "Leave" },
    Leave = task { routine = "leave", input = function(d) return { key = d.key, n = d.a.n } end, result = "$.b", retry = retry(), next = "Done" },
    Done  = succeed { output = function(d) return { key = d.key, n = d.b.n } end },
  },
}

-- Express: only the end is stored; the test starts it synchronously and
-- starts it again when a crash forgot it.
workflow "quick" {
  mode = "express",
  start = "A",
  states = {
    A    = task { routine = "step", input = function(d) return { n = d.n } end, result = "$.a", retry = retry(), next = "B" },
    B    = task { routine = "step", input = function(d) return { n = d.a.n } end, result = "$.b", retry = retry(), next = "Done" },
    Done = succeed { output = function(d) return { n = d.b.n } end },
  },
}

-- A downstream that refuses: the instance fails with the downstream's
-- error, once.
workflow "refused" {
  start = "Ask",
  states = {
    Ask = task { routine = "refuse", input = function(d) return { n = 0 } end, retry = retry() },
  },
}
