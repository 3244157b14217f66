package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logFormat is --log-format: how log lines are written.
type logFormat string

// The log formats.
const (
	logText logFormat = "text" // slog's key=value lines, for people
	logJSON logFormat = "json" // one JSON object a line, for log collectors
)

func (f *logFormat) String() string { return string(*f) }

func (f *logFormat) Set(v string) error {
	switch logFormat(strings.ToLower(v)) {
	case logText, logJSON:
		*f = logFormat(strings.ToLower(v))
		return nil
	}
	return fmt.Errorf("log format %q: use text or json", v)
}

// logLevel is --log-level: the least severe level that is logged.
type logLevel struct{ slog.Level }

func (l *logLevel) Set(v string) error {
	if err := l.UnmarshalText([]byte(v)); err != nil {
		return fmt.Errorf("log level %q: use debug, info, warn or error", v)
	}
	return nil
}

// logFlags are the logging flags of a command that serves.
type logFlags struct {
	format  logFormat
	level   logLevel
	verbose *bool
}

// addLogFlags adds --log-format, --log-level and -v (the same as
// --log-level debug) to fs.
func addLogFlags(fs *flag.FlagSet) *logFlags {
	f := &logFlags{format: logText, level: logLevel{slog.LevelInfo}}
	fs.Var(&f.format, "log-format", "log line `format`: text or json")
	fs.Var(&f.level, "log-level", "least severe `level` logged: debug, info, warn or error")
	f.verbose = fs.Bool("v", false, "log debug messages (--log-level debug)")
	return f
}

// logger writes the log to w as the flags say.
func (f *logFlags) logger(w io.Writer) *slog.Logger {
	level := f.level.Level
	if *f.verbose {
		level = min(level, slog.LevelDebug)
	}
	opts := &slog.HandlerOptions{Level: level}
	if f.format == logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// json reports whether lines are JSON, so that nothing else goes to the
// log's stream as plain text.
func (f *logFlags) json() bool { return f.format == logJSON }
