-- A module: routines.lua requires it before its own turn in lexical order.
local M = {}
function M.tax(amount) return amount * 0.2 end
return M
