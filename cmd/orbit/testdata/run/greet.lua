routine "greeter" {
  lua = function(input, ctx)
    if not input.name then error({ error = "Greeting.Refused", cause = "no name given" }) end
    return "hello, " .. input.name
  end,
}

workflow "greet" {
  start = "Greet",
  states = {
    Greet = task { routine = "greeter", result = "$.greeting", output = function(d) return { greeting = d.greeting } end },
  },
}

workflow "refuse" {
  start = "Greet",
  states = {
    Greet = task { routine = "greeter" },
  },
}
