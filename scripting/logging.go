package scripting

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// How much one call may log with log.* and print: a loop could otherwise
// write tens of megabytes a second into Orbit's log. A longer line is cut
// with a marker; once a call has logged maxCallLog, its further lines are
// dropped and counted, and one warning says so when the call ends.
const (
	maxLogLine = 8 << 10
	maxCallLog = 64 << 10
)

// logState is what the running call has logged.
type logState struct {
	bytes   int // logged so far
	dropped int // lines not logged
}

// openLog installs log.info/warn/error and print. Extra arguments are slog
// key/value pairs; the running instance and state are added when known.
func (v *vm) openLog() {
	L := v.L
	logAt := func(level slog.Level) *lua.LFunction {
		return L.NewFunction(func(L *lua.LState) int {
			msg := L.ToStringMeta(L.Get(1)).String()
			v.log(level, msg, len(msg), 2)
			return 0
		})
	}
	t := L.NewTable()
	t.RawSetString("info", logAt(slog.LevelInfo))
	t.RawSetString("warn", logAt(slog.LevelWarn))
	t.RawSetString("error", logAt(slog.LevelError))
	L.SetGlobal("log", t)
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		// Joined up to the line limit only: print(s, s, s, ...) of long
		// strings must not build the whole line first.
		var b strings.Builder
		total := 0
		for i := 1; i <= L.GetTop(); i++ {
			part := L.ToStringMeta(L.Get(i)).String()
			if i > 1 {
				total++
				if b.Len() < maxLogLine {
					b.WriteByte('\t')
				}
			}
			total += len(part)
			if room := maxLogLine - b.Len(); room > 0 {
				b.WriteString(part[:min(len(part), room)])
			}
		}
		v.log(slog.LevelInfo, b.String(), total, L.GetTop()+1)
		return 0
	}))
}

// truncated marks a line cut from total bytes to at most maxLogLine.
func truncated(msg string, total int) string {
	if total <= maxLogLine && len(msg) <= maxLogLine {
		return msg
	}
	return fmt.Sprintf("%s… [truncated: %d bytes in all]", msg[:min(len(msg), maxLogLine)], max(total, len(msg)))
}

// log logs msg, of total bytes before it was cut, with the arguments from
// firstAttr on as attributes.
func (v *vm) log(level slog.Level, msg string, total, firstAttr int) {
	if v.quiet {
		return
	}
	if v.logs.bytes >= maxCallLog {
		v.logs.dropped++
		return
	}
	msg = truncated(msg, total)
	line := len(msg)
	L := v.L
	args := []any{"source", trimWhere(L.Where(1))}
	if c := v.cur; c != nil {
		args = c.LogArgs(args...)
	}
	for i := firstAttr; i <= L.GetTop(); i++ {
		room := max(maxLogLine-line, 0)
		// A table stops converting once it cannot fit: logging it must not
		// cost what converting a million values does.
		c := converter{bridge: v.bridge, limit: max(room, 1)}
		val, err := c.from(L.Get(i), 0)
		switch {
		case err == errTooLarge:
			val, c.size = "[not logged: larger than the rest of the line]", 0
		case err != nil:
			val, c.size = L.Get(i).String(), len(L.Get(i).String())
		}
		if s, ok := val.(string); ok && len(s) > room {
			val, c.size = truncated(s[:room], len(s)), room
		}
		line += c.size
		args = append(args, val)
	}
	v.logs.bytes += line
	v.cfg.log().Log(context.Background(), level, msg, args...)
}

// endLogs reports the lines the call that just ended could not log.
func (v *vm) endLogs() {
	if v.logs.dropped > 0 {
		args := []any{"dropped_lines", v.logs.dropped, "limit", sizeText(maxCallLog)}
		if c := v.cur; c != nil {
			args = c.LogArgs(args...)
		}
		v.cfg.log().Warn("a Lua call logged more than its limit; the rest of its lines were dropped", args...)
	}
	v.logs = logState{}
}
