-- A workflow for the observability tests: a call, a Lua routine that
-- logs, a wait for an event (where a test restarts the sidecar), and a
-- second call.
routine "first" { http = { method = "POST", url = "${DOWNSTREAM_URL}/first", timeout = "5s" } }
routine "second" { http = { method = "POST", url = "${DOWNSTREAM_URL}/second", timeout = "5s" } }
routine "note" { lua = function(input, ctx)
  log.info("noted", "amount", input.amount)
  return { noted = true }
end }

workflow "traced" {
  start = "First",
  states = {
    First  = task { routine = "first", result = "$.first", next = "Note" },
    Note   = task { routine = "note", result = "$.note", next = "Hold" },
    Hold   = await { event = "go", result = "$.go", next = "Second" },
    Second = task { routine = "second", result = "$.second" },
  },
}
