-- A Lua workflow that uses only what ASL can say.

workflow "shipment" {
  timeout = "1h",
  start = "Quote",
  states = {
    Quote = task {
      routine = "quote", input = "$.order", result = "$.quote", timeout = "30s",
      catch = { { errors = { "Quote.Unknown" }, next = "NoQuote", result = "$.problem" } },
      next = "Size",
    },
    Size = choice {
      { when = all { gt("$.quote.amount", 100), none { eq("$.order.express", true) } }, next = "Large" },
      { when = eq("$.order.qty", "2"), next = "Pair" },
      default = "Reserve",
    },
    Large = pass { value = { large = true }, result = "$.size", next = "Reserve" },
    Pair = pass { value = "pair", result = "$.size", next = "Reserve" },
    Reserve = map {
      input = "$.order", items = "$.skus", max_concurrency = 2,
      iterator = { start = "One", states = {
        One = task { routine = "reserve", input = "$", retry = { { errors = { "Stock.Busy" }, max_attempts = 2, interval = "1s", backoff = 2 } } },
      } },
      result = "$.reserved", next = "Pause",
    },
    Pause = wait { seconds = 5, next = "Both" },
    Both = parallel {
      branches = {
        { start = "Label", states = { Label = task { routine = "label", input = "$.order.country" } } },
        { start = "Echo", states = { Echo = pass { input = "$.quote" } } },
      },
      result = "$.both", next = "Done",
    },
    Done = succeed { output = "$" },
    NoQuote = fail { error = "Shipment.NoQuote", cause = "$.problem.cause" },
  },
}
