workflow "w" {
  start = "A",
  states = {
    A = pass { colour = "blue" },
  },
}
