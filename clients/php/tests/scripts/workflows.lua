-- The workflows the PHP client's tests run against a real sidecar.
routine "echo" { lua = function(input, ctx) return input end }

-- Fails the first time it sees an input, then succeeds: a redrive finds it well.
routine "once" { http = { method = "POST", url = "${ONCE_URL}/once", timeout = "5s" } }

workflow "echo" {
  start = "Echo",
  states = { Echo = task { routine = "echo" } },
}

-- The order scenario of docs/clients.md: reserve, then wait for the payment provider's webhook.
workflow "checkout" {
  start = "Reserve",
  states = {
    Reserve      = task { routine = "echo", next = "AwaitPayment" },
    AwaitPayment = await { event = "payment.captured", timeout = "1h", result = "$.payment", next = "Done" },
    Done         = succeed {},
  },
}

-- A timer before the await: an event sent meanwhile is kept for it.
workflow "late" {
  start = "Nap",
  states = {
    Nap   = wait { seconds = 1, next = "Await" },
    Await = await { event = "payment.captured", result = "$.payment" },
  },
}

workflow "flaky" {
  start = "Call",
  states = { Call = task { routine = "once", result = "$.answer" } },
}
