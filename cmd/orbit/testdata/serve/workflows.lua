-- One task: synchronous starts, idempotent starts, paging, the benchmark.
workflow "echo" {
  start = "Echo",
  states = { Echo = task { routine = "echo" } },
}

-- Waits for an event; a child of "parent".
workflow "approval" {
  start = "Await",
  states = {
    Await = await { event = "approved", timeout = "1h", result = "$.approval", next = "Done" },
    Done  = succeed {},
  },
}

-- A durable timer before an await: an event sent during the timer is early.
workflow "late" {
  start = "Nap",
  states = {
    Nap   = wait { seconds = 1, next = "Await" },
    Await = await { event = "approved", result = "$.approval" },
  },
}

-- A durable timer alone.
workflow "nap" {
  start = "Nap",
  states = {
    Nap  = wait { seconds = 2, next = "Done" },
    Done = pass { value = "rested" },
  },
}

-- Runs "approval" as a child and takes its output.
workflow "parent" {
  start = "Child",
  states = {
    Child = call { workflow = "approval", result = "$.child", next = "Sum" },
    Sum   = parallel {
      branches = {
        { start = "A", states = { A = task { routine = "echo", input = "$.child.approval" } } },
        { start = "B", states = { B = pass { value = "b" } } },
      },
      result = "$.both",
    },
  },
}

-- One instance per key at a time; the rest queue.
workflow "serial" {
  start = "Await",
  concurrency = { key = "$.key", limit = 1 },
  states = { Await = await { event = "go", result = "$.go" } },
}

-- Fails while its downstream does; redrive runs the failed state again.
workflow "flaky" {
  start = "Call",
  states = { Call = task { routine = "flaky", result = "$.answer" } },
}
