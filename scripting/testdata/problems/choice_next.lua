-- want: choice_next.lua:5: workflow "w", state "C": a choice has no next: use rules { when = ..., next = ... } and default
workflow "w" {
  start = "C",
  states = {
    C = choice { { when = "$.x", next = "D" }, next = "D" },
    D = succeed {},
  },
}
