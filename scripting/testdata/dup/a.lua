workflow "w" {
  start = "A",
  states = { A = succeed {} },
}
routine "r" { lua = function() end }
