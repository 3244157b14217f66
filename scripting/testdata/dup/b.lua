routine "r" { lua = function() end }
workflow "w" {
  start = "B",
  states = { B = succeed {} },
}
