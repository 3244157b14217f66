-- Loyalty points for the order scenario (scripts/orders.lua), added by a
-- module of its own instead of an edit to place_order: once the order is
-- saved, the loyalty service credits the customer, then the order goes on
-- to Notify as before. Copy this file into the scripts directory; a running
-- sidecar reloads the bundle, and instances started from then on award
-- points.

routine "loyalty.award" {
  http = { method = "POST", url = "${LOYALTY_URL:-http://127.0.0.1:8090}/points", timeout = "2s" },
}

extend("place_order", function(wf)
  -- Save -> AwardPoints -> Notify
  wf:insert_after("Save", "AwardPoints", task {
    routine = "loyalty.award",
    input   = function(data) return { order = data.order.id, amount = data.order.amount } end,
    result  = "$.loyalty",
    retry   = { { errors = { "Http.5*", "States.Timeout" }, max_attempts = 2, interval = "500ms" } },
  })
  -- Points are a bonus: when the loyalty service stays down the order is
  -- still confirmed, and the error is kept in the data.
  wf:add_catch("AwardPoints", { errors = { "States.ALL" }, next = "Notify", result = "$.loyalty_error" })
end)
