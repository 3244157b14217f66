workflow "w" {
  start = "A",
  states = {
    A = task { routine = "nope" },
  },
}
