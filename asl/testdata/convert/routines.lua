-- Routines of the workflow written to ASL by TestLuaConvertedToASLRunsTheSame.

routine "quote" { lua = function(input)
  if input.country == "XX" then error({ error = "Quote.Unknown", cause = "no price for " .. input.country }) end
  return { amount = input.qty * 7, currency = "EUR" }
end }

routine "reserve" { lua = function(sku, ctx)
  if ctx.attempt == 1 then error({ error = "Stock.Busy", cause = "try again" }) end
  return { reserved = sku, attempt = ctx.attempt }
end }

routine "label" { lua = function(input) return "label for " .. input end }
