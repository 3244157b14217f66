-- The Lambda functions the state machines call, written as Lua routines:
-- a Lambda ARN names the routine after ":function:".

routine "price" { lua = function(input)
  local total = 0
  for _, item in ipairs(input.items) do total = total + item.price * item.qty end
  return { id = input.id, total = total }
end }

routine "charge" { lua = function(input)
  if input.card == "4000-0000-0000-0002" then
    error({ error = "Card.Declined", cause = "insufficient funds" })
  end
  return { receipt = "r-" .. string.sub(input.card, -4) }
end }

routine "box" { lua = function(input)
  if input.sku == "broken" then error({ error = "Box.Failed", cause = "no box fits" }) end
  return { sku = input.sku, box = input.position + 1 }
end }

routine "rate" { lua = function(input)
  if input.zone == "moon" then error({ error = "Rate.Unknown", cause = "no carrier" }) end
  return { price = input.kg * 4.5 }
end }
