-- The soak's mix: every kind of state the engine keeps durably, at a
-- steady rate, against a downstream that answers 503 now and then.

routine "call" {
  http = { method = "POST", url = "${SOAK_URL}/call", timeout = "5s" },
}

-- Map items are numbers, the rest tables.
routine "shape" {
  lua = function(input, ctx)
    if type(input) == "table" then input = input.n end
    return { n = input, seen = ctx.state }
  end,
}

-- A task that retries the downstream's 503s, then a short durable timer.
workflow "order" {
  start = "Charge",
  states = {
    Charge = task {
      routine = "call",
      retry   = { { errors = { "Http.503" }, max_attempts = 5, interval = "50ms", backoff = 2.0 } },
      result  = "$.charge",
      next    = "Nap",
    },
    Nap  = wait { duration = "200ms", next = "Done" },
    Done = succeed {},
  },
}

-- Waits for an event the soak sends, before or after the await begins.
workflow "approval" {
  start = "Await",
  states = {
    Await = await { event = "approved", timeout = "1m", result = "$.approval", next = "Done" },
    Done  = succeed {},
  },
}

-- A parallel state, a map over items and a called child workflow.
workflow "fanout" {
  start = "Both",
  states = {
    Both = parallel {
      branches = {
        { start = "A", states = { A = task { routine = "call", retry = { { errors = { "Http.503" }, max_attempts = 5, interval = "50ms" } } } } },
        { start = "B", states = { B = task { routine = "shape" } } },
      },
      result = "$.both",
      next = "Each",
    },
    Each = map {
      items = "$.items",
      max_concurrency = 2,
      iterator = { start = "Do", states = { Do = task { routine = "shape" } } },
      result = "$.each",
      next = "Child",
    },
    Child = call { workflow = "order", result = "$.child", next = "Done" },
    Done  = succeed {},
  },
}

-- Short and frequent: only its end is stored.
workflow "quick" {
  mode = "express",
  start = "Shape",
  states = {
    Shape = task { routine = "shape", next = "Call" },
    Call  = task { routine = "call", retry = { { errors = { "Http.503" }, max_attempts = 5, interval = "20ms" } } },
  },
}
