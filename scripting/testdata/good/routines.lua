-- Routines the good bundle's workflows use.
local money = require("shared.money")
routine "tax.compute" {
  lua = function(input, ctx)
    return { tax = money.tax(input.amount), state = ctx.state }
  end,
}

routine "fail.named" {
  lua = function(input, ctx)
    error({ error = "Payment.Declined", cause = "card declined" })
  end,
}

routine "fail.plain" {
  lua = function(input, ctx)
    error("boom")
  end,
}

routine "spin" {
  lua = function(input, ctx)
    while true do end
  end,
}

routine "echo" {
  lua = function(input, ctx) return input end,
}

routine "ctx.dump" {
  lua = function(input, ctx)
    return {
      instance = ctx.instance, workflow = ctx.workflow, version = ctx.version,
      state = ctx.state, attempt = ctx.attempt, visit = ctx.visit,
      started_at = ctx.started_at, now = ctx.now,
      idempotency_key = ctx.idempotency_key, item_index = ctx.item_index,
    }
  end,
}

routine "ctx.write" {
  lua = function(input, ctx) ctx.state = "hacked" end,
}

-- probe returns whether a global is reachable, or calls it when asked.
routine "probe" {
  lua = function(input, ctx)
    local out = {}
    for _, name in ipairs(input.names) do
      out[name] = _G[name] ~= nil
    end
    return out
  end,
}

routine "run" {
  lua = function(input, ctx)
    local f = _G[input.fn]
    return f(input.arg)
  end,
}

routine "json.roundtrip" {
  lua = function(input, ctx)
    return json.decode(json.encode(input))
  end,
}
