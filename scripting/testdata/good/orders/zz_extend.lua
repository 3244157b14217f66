routine "audit.log" { lua = function(input) return true end }

extend("place_order", function(wf)
  wf:add_state("Notify", task { routine = "echo", next = "Declined" })
  wf:add_catch("Authorize", { errors = { "Payment.Gateway" }, next = "Notify" })
  wf:insert_after("Authorize", "Audit", task { routine = "audit.log", result = false })
  wf:insert_before("Save", "PreSave", pass {})
  wf:add_retry("Save", { errors = { "States.Runtime" }, max_attempts = 1 })
  wf:set("Review", "event", "review.done")
  wf:replace_routine("tax.compute", "echo")
end)

observe { workflow = "place_order", on = "StateExited", state = "Done",
          routine = "audit.log", input = "$.saved", retry = { { errors = { "States.ALL" }, max_attempts = 2 } } }
