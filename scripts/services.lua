-- The services the order scenario talks to. Each is a routine: the only
-- place that knows a URL. `make run` starts a stand-in for all three
-- (examples/shopd) on SHOP_URL.

routine "payments.authorize" {
  http = { method = "POST", url = "${SHOP_URL:-http://127.0.0.1:7078}/payments/authorize", timeout = "2s" },
}

routine "orders.save" {
  http = { method = "POST", url = "${SHOP_URL:-http://127.0.0.1:7078}/orders", timeout = "2s" },
}

routine "customers.notify" {
  http = { method = "POST", url = "${SHOP_URL:-http://127.0.0.1:7078}/notify", timeout = "2s" },
}

-- A routine in Lua runs inside the sidecar: no service needed.
routine "orders.summarize" {
  lua = function(order, ctx)
    local lines = 0
    for _, item in ipairs(order.items or {}) do lines = lines + item.qty end
    return { id = order.id, items = lines, amount = order.amount, placed_by = ctx.instance }
  end,
}
