-- Routines of the sidecar's end-to-end tests.
routine "echo" { lua = function(input, ctx) return input end }

routine "double" { lua = function(input, ctx) return { n = input.n * 2 } end }

-- flaky answers 500 until the test tells its downstream to recover.
routine "flaky" { http = { method = "POST", url = "${FLAKY_URL}/flaky", timeout = "5s" } }
