package plugins

import (
	"bytes"
	"context"
	"log/slog"
)

// guestLog turns what a guest writes to stdout or stderr into log records,
// one per line, tagged with the plugin's name. It also keeps the start of
// what was written during the current call, because a Go guest prints its
// panic message there just before it exits, and that message is the best
// cause a Plugin.Trap can carry.
type guestLog struct {
	log     *slog.Logger
	level   slog.Level
	partial []byte       // an unfinished line
	kept    bytes.Buffer // the current call's output, up to keepLimit
}

// keepLimit bounds what a call keeps for error causes; a runaway printer
// must not grow the sidecar's memory.
const keepLimit = 2048

// Write logs complete lines and keeps the tail for the next write.
func (g *guestLog) Write(p []byte) (int, error) {
	if room := keepLimit - g.kept.Len(); room > 0 {
		g.kept.Write(p[:min(room, len(p))])
	}
	g.partial = append(g.partial, p...)
	for {
		i := bytes.IndexByte(g.partial, '\n')
		if i < 0 {
			break
		}
		g.emit(g.partial[:i])
		g.partial = g.partial[i+1:]
	}
	if len(g.partial) > keepLimit { // a line that never ends is logged in pieces
		g.emit(g.partial)
		g.partial = g.partial[:0]
	}
	return len(p), nil
}

func (g *guestLog) emit(line []byte) {
	if len(bytes.TrimSpace(line)) > 0 {
		g.log.Log(context.Background(), g.level, string(line))
	}
}

// reset flushes an unfinished line and forgets the kept output: called at
// the start of every call.
func (g *guestLog) reset() {
	g.flush()
	g.kept.Reset()
}

func (g *guestLog) flush() {
	if len(g.partial) > 0 {
		g.emit(g.partial)
		g.partial = g.partial[:0]
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
