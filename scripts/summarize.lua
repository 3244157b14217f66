-- A scenario that needs no service at all: summarize an order in Lua and
-- pause between steps with a durable timer.
workflow "summarize" {
  start = "Summarize",
  states = {
    Summarize = task { routine = "orders.summarize", result = "$.summary", next = "Breathe" },
    Breathe   = wait { duration = "1s", next = "Done" },
    Done      = succeed { output = "$.summary" },
  },
}
