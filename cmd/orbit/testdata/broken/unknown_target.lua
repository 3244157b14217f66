workflow "w" {
  start = "A",
  states = {
    A = pass {
      next = "Nowhere",
    },
  },
}
