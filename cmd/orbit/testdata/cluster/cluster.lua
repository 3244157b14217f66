-- Workflows of the scale-out tests: sidecars sharing a NATS store.

-- step answers {"ok": true} and counts the calls of each Idempotency-Key.
routine "step" { http = { method = "POST", url = "${STEP_URL}/step", timeout = "10s" } }

workflow "chain" {
  start = "A",
  states = {
    A   = task { routine = "step", result = "$.a", next = "Nap" },
    Nap = wait { seconds = 1, next = "B" },
    B   = task { routine = "step", result = "$.b", next = "C" },
    C   = task { routine = "step", result = "$.c" },
  },
}

workflow "gated" {
  start = "Gate",
  states = {
    Gate = await { event = "go", result = "$.ev", next = "Done" },
    Done = task { routine = "step", result = "$.d" },
  },
}

-- hold answers like step; the downstream checks that no two instances of
-- one key are inside at once.
routine "hold" { http = { method = "POST", url = "${STEP_URL}/hold", timeout = "10s" } }

workflow "serial" {
  concurrency = { key = "$.k", limit = 1 },
  start = "In",
  states = {
    In  = task { routine = "hold", result = "$.in", next = "Out" },
    Out = task { routine = "hold", result = "$.out" },
  },
}
