-- A step that never ends by itself: the test kills the process while it
-- runs, as a step that brought the sidecar down would.
routine "spin" { lua = function()
  log.warn("spinning in Spin")
  while true do end
end }

workflow "crashloop" { start = "Spin", states = { Spin = task { routine = "spin" } } }
