-- Workflows of the test that moves a bbolt store into NATS, serves it
-- there, and moves it back.

-- step answers {"ok": true} and counts the calls of each Idempotency-Key.
routine "step" { http = { method = "POST", url = "${STEP_URL}/step", timeout = "10s" } }

-- quick ends before the move.
workflow "quick" {
  start = "A",
  states = { A = task { routine = "step", result = "$.a" } },
}

-- gated waits for an event sent after the move.
workflow "gated" {
  start = "Gate",
  states = {
    Gate = await { event = "go", result = "$.ev", next = "Done" },
    Done = task { routine = "step", result = "$.d" },
  },
}

-- overdue's timer falls due while the store is being moved.
workflow "overdue" {
  start = "A",
  states = {
    A   = task { routine = "step", result = "$.a", next = "Nap" },
    Nap = wait { seconds = 5, next = "B" },
    B   = task { routine = "step", result = "$.b" },
  },
}

-- napper's timer falls due after the move.
workflow "napper" {
  start = "A",
  states = {
    A   = task { routine = "step", result = "$.a", next = "Nap" },
    Nap = wait { seconds = 12, next = "B" },
    B   = task { routine = "step", result = "$.b" },
  },
}

-- early holds an event sent before it awaits it.
workflow "early" {
  start = "Nap",
  states = {
    Nap  = wait { seconds = 12, next = "Gate" },
    Gate = await { event = "go", result = "$.ev", next = "Done" },
    Done = task { routine = "step", result = "$.d" },
  },
}
