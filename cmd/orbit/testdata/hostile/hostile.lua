-- Scripts that try to leave the sandbox or never end.
routine "os"   { lua = function() return os.execute("touch /tmp/orbit-escaped") end }
routine "io"   { lua = function() return io.open("/etc/passwd"):read("*a") end }
routine "load" { lua = function() return load("return 1")() end }
routine "spin" { lua = function() while true do end end }

workflow "use_os"   { start = "A", states = { A = task { routine = "os" } } }
workflow "use_io"   { start = "A", states = { A = task { routine = "io" } } }
workflow "use_load" { start = "A", states = { A = task { routine = "load" } } }
workflow "spin"     { start = "A", states = { A = pass { output = function(d) while true do end end } } }
