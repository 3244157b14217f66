-- Order placement: authorize the payment (retrying a flaky gateway, catching
-- a declined card), decide on risk, wait for a human review when the risk is
-- high, save the order and notify the customer.
--
--   orbit run scripts place_order --input '{"order":{"id":"o-1","amount":120,"card":"4242-4242-4242-4242","items":[{"sku":"tea","qty":2}]}}'

workflow "place_order" {
  version = "v3",
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
      { when = function(data) return data.payment.risk > 0.8 end, next = "Review" },
      default = "Save",
    },
    Review = await {
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
