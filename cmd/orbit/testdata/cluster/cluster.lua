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
