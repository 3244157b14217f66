-- want: wait_two_durations.lua:5: workflow "w", state "W": a wait takes one of duration, seconds, until
workflow "w" {
  start = "W",
  states = {
    W = wait { duration = "1s", seconds = 2 },
  },
}
