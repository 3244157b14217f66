
workflow "w" {
  states = {
    A = succeed {},
  },
}
