workflow "place_order" {
  start = "Authorize",
  timeout = "5m",
  version = "v1",
  mode = "express",
  concurrency = { key = "$.order.id", limit = 2 },
  states = {
    Authorize = task {
      routine = "tax.compute",
      input   = "$.order",
      result  = "$.payment",
      output  = "$",
      timeout = "2s",
      retry = { { errors = { "Http.5*", "States.Timeout" }, max_attempts = 5,
                  interval = "200ms", backoff = 1.5, max_delay = "2s", jitter = "full" },
                { errors = { "States.ALL" } } },
      catch = { { errors = { "Payment.Declined" }, next = "Declined", result = "$.error" },
                { errors = { "States.ALL" }, next = "Declined" } },
      next = "Route",
    },
    Route = choice {
      { when = function(data, ctx) return data.payment.tax > 10 end, next = "Review" },
      { when = "$.express", next = "Fanout" },
      default = "Save",
    },
    Review = await { event = "review.completed", timeout = "24h", result = "$.review", next = "Save",
                     catch = { { errors = { "States.Timeout" }, next = "Declined" } } },
    Save = pass { value = { saved = true, ids = { 1, 2 } }, result = "$.saved", next = "Pause" },
    Pause = wait { seconds = 1.5, next = "Until" },
    Until = wait { ["until"] = function(data) return "2030-01-01T00:00:00Z" end, next = "Fanout" },
    Fanout = parallel {
      branches = {
        { start = "A", states = { A = pass { next = "B" }, B = succeed {} } },
        { start = "C", states = { C = task { routine = "echo" } } },
      },
      result = false,
      next = "Each",
    },
    Each = map {
      items = "$.order.lines",
      max_concurrency = 4,
      iterator = { start = "Line", states = { Line = task { routine = "echo", output = function(d, ctx) return ctx.item_index end } } },
      result = "$.lines",
      next = "Child",
    },
    Child = call { workflow = "refund", version = "v2", result = "$.child", next = "Done" },
    Declined = fail { error = "Payment.Declined", cause = function(data) return "declined: " .. data.error.cause end },
    Done = succeed { output = "$.saved" },
  },
}

workflow "refund" {
  start = "Wait",
  states = {
    Wait = wait { duration = "10s", next = "Fail" },
    Fail = fail { error = "$.name", cause = "static cause" },
  },
}
