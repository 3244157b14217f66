-- Version v4 of the order scenario in scripts/orders.lua: the review state
-- is renamed ManualReview. Copy it over scripts/orders.lua while `make run`
-- serves, and move the orders that wait for a review with
--   bin/orbit migrate --workflow place_order --to v4 --dry-run
-- (see docs/execution.md, Migration).

workflow "place_order" {
  version = "v4",
  -- An instance moved from v3 that waits in Review waits in ManualReview,
  -- and its data gains a currency (orbit migrate --to v4).
  migrate = function(from_version, state, data)
    if state == "Review" then state = "ManualReview" end
    data.currency = data.currency or "EUR"
    return state, data
  end,
  start = "Authorize",
  timeout = "5m",
  states = {
    Authorize = task {
      routine = "payments.authorize",
      input   = "$.order",
      result  = "$.payment",
      retry   = { { errors = { "Http.5*", "States.Timeout" }, max_attempts = 3,
                    interval = "200ms", backoff = 2.0, max_delay = "2s", jitter = "full" } },
      catch   = { { errors = { "Payment.Declined" }, next = "Declined", result = "$.error" } },
      next    = "Route",
    },
    Route = choice {
      { when = function(data) return data.payment.risk > 0.8 end, next = "ManualReview" },
      default = "Save",
    },
    ManualReview = await {
      event   = "review.completed",
      timeout = "24h",
      result  = "$.review",
      catch   = { { errors = { "States.Timeout" }, next = "Declined", result = "$.error" } },
      next    = "Approved",
    },
    Approved = choice {
      { when = "$.review.approved", next = "Save" },
      default = "Rejected",
    },
    Save = task {
      routine = "orders.save",
      input   = function(data) return { order = data.order, payment = data.payment.id } end,
      result  = "$.saved",
      next    = "Notify",
    },
    Notify = task {
      routine = "customers.notify",
      input   = function(data, ctx)
        return { order = data.order.id, text = "Your order " .. data.order.id .. " is confirmed" }
      end,
      result  = false,
      next    = "Done",
    },
    Done = succeed {
      output = function(data) return { order = data.order.id, saved = data.saved, payment = data.payment.id } end,
    },
    Rejected = fail { error = "Order.Rejected", cause = "the reviewer rejected the order" },
    Declined = fail {
      error = "Payment.Declined",
      cause = function(data) return data.error.cause end,
    },
  },
}
