-- want: bad_mode.lua:2: workflow "w": mode "fast" must be "durable" or "express"
workflow "w" { start = "D", mode = "fast", states = { D = succeed {} } }
