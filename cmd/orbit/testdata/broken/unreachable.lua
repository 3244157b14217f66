workflow "w" {
  start = "A",
  states = {
    A = pass {},
    -- nothing leads here
    Orphan = succeed {},
  },
}
