package plugins

import (
	"bytes"
	"context"
	"log/slog"
)

// Bounds on what one call (or one instance's start-up) may write to
// Orbit's log through log, stdout and stderr together: a guest in a loop
// of prints must not flood the log or the disk under it. What is over is
// dropped, and the call's end logs one line that says how much.
const (
	maxOutputLines = 256
	maxOutputBytes = 64 << 10
)

// outputBudget is what is left of the current call's output bounds.
type outputBudget struct {
	lines, bytes int // left
	dropped      int // bytes refused
}

// reset gives a new call its bounds.
func (b *outputBudget) reset() { *b = outputBudget{lines: maxOutputLines, bytes: maxOutputBytes} }

// take reports whether a line of n bytes may be logged, and spends it.
func (b *outputBudget) take(n int) bool {
	if b.lines <= 0 || n > b.bytes {
		b.dropped += n
		b.lines = 0 // once anything is dropped, what follows is too: no gaps in a log
		return false
	}
	b.lines--
	b.bytes -= n
	return true
}

// report logs the marker of dropped output, once per call; logger is
// only asked for when there is something to say.
func (b *outputBudget) report(logger func() *slog.Logger) {
	if b.dropped > 0 {
		logger().Warn("plugin output dropped: a call may log at most 256 lines or 64KiB", "dropped_bytes", b.dropped)
		b.dropped = 0
	}
}

// guestLog turns what a guest writes to stdout or stderr into log records,
// one per line, tagged with the plugin's name, within the call's output
// budget. It also keeps the start of what was written during the current
// call, because a Go guest prints its panic message there just before it
// exits, and that message is the best cause a Plugin.Trap can carry.
type guestLog struct {
	log     *slog.Logger
	level   slog.Level
	budget  *outputBudget // the instance's, shared with log and the other stream
	partial []byte        // an unfinished line, at most keepLimit bytes
	kept    bytes.Buffer  // the current call's output, up to keepLimit
}

// keepLimit bounds what a call keeps for error causes and the length of a
// logged line: a runaway printer must not grow the sidecar's memory.
const keepLimit = 2048

// Write logs complete lines and keeps the tail for the next write. Nothing
// it holds grows with p: a line longer than keepLimit is logged in pieces,
// and once the budget is spent the rest is only counted.
func (g *guestLog) Write(p []byte) (int, error) {
	n := len(p)
	if room := keepLimit - g.kept.Len(); room > 0 {
		g.kept.Write(p[:min(room, len(p))])
	}
	for len(p) > 0 {
		if g.budget.lines <= 0 {
			g.budget.dropped += len(p) + len(g.partial)
			g.partial = g.partial[:0]
			break
		}
		end := bytes.IndexByte(p, '\n')
		if end < 0 {
			end = len(p)
		}
		take := min(end, keepLimit-len(g.partial))
		g.partial = append(g.partial, p[:take]...)
		p = p[take:]
		switch {
		case len(p) > 0 && p[0] == '\n':
			g.flush()
			p = p[1:]
		case len(g.partial) == keepLimit: // a line that never ends
			g.flush()
		}
	}
	return n, nil
}

// flush logs the unfinished line, if any.
func (g *guestLog) flush() {
	line := g.partial
	g.partial = g.partial[:0]
	if len(bytes.TrimSpace(line)) > 0 && g.budget.take(len(line)) {
		g.log.Log(context.Background(), g.level, string(line))
	}
}

// summary is the first paragraph of what the current call wrote, for an
// error cause: a Go guest's panic message without its goroutine dump.
func (g *guestLog) summary() string {
	b := g.kept.Bytes()
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		b = b[:i]
	}
	const most = 512
	if len(b) > most {
		b = append(b[:most:most], "..."...)
	}
	return string(bytes.TrimSpace(b))
}
