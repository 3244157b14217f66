package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/orbit-sidecar/orbit/scripting"
)

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: orbit %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags placed anywhere among the arguments (flag stops at
// the first positional one) and returns the positional ones. It returns
// ok=false with the exit code when parsing failed or help was asked.
func parse(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseData is parse for a command that reads a store: it checks that it
// has npos positional arguments, fills unset flags from ORBIT_ variables,
// then runs each check of the flags' values.
func parseData(fs *flag.FlagSet, args []string, npos int, stderr io.Writer, checks ...func() error) (pos []string, code int, ok bool) {
	if pos, code, ok = parse(fs, args); !ok {
		return nil, code, false
	}
	if len(pos) != npos {
		fs.Usage()
		return nil, 2, false
	}
	if err := fromEnv(fs); err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return nil, 2, false
	}
	for _, check := range checks {
		if err := check(); err != nil {
			fmt.Fprintf(stderr, "orbit: %v\n", err)
			return nil, 2, false
		}
	}
	return pos, 0, true
}

// parseScripts is parse for a command that loads scripts without reading
// its other flags from the environment: --script-env still comes from
// ORBIT_SCRIPT_ENV when not given.
func parseScripts(fs *flag.FlagSet, args []string, stderr io.Writer) (pos []string, code int, ok bool) {
	if pos, code, ok = parse(fs, args); !ok {
		return pos, code, ok
	}
	if err := fromEnv(fs, "script-env"); err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return nil, 2, false
	}
	return pos, 0, true
}

// fromEnv fills every flag not given on the command line from
// ORBIT_<NAME> (dashes become underscores); with names, only those flags.
func fromEnv(fs *flag.FlagSet, names ...string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil || (len(names) > 0 && !slices.Contains(names, f.Name)) {
			return
		}
		name := "ORBIT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", name, v, e)
			}
		}
	})
	return err
}

// scriptEnv is --script-env: the environment variables scripts may read.
type scriptEnv struct{ env scripting.Env }

// scriptEnvFlag adds --script-env to a command that loads scripts; every
// such command reads ORBIT_SCRIPT_ENV when the flag is not given.
func scriptEnvFlag(fs *flag.FlagSet) *scriptEnv {
	s := &scriptEnv{}
	fs.Var(s, "script-env", "environment variables scripts may read with env() and ${NAME}: names and PREFIX_* patterns, comma-separated (never ORBIT_TOKEN)")
	return s
}

func (s *scriptEnv) String() string {
	if s == nil {
		return ""
	}
	return s.env.String()
}

func (s *scriptEnv) Set(v string) (err error) {
	s.env, err = scripting.ParseEnv(v)
	return err
}

// listFlag is a flag holding a list: comma-separated, and repeatable.
// check, when set, refuses a value.
type listFlag struct {
	vals  []string
	check func(string) error
}

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.vals, ",")
}

func (l *listFlag) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if l.check != nil {
			if err := l.check(item); err != nil {
				return err
			}
		}
		l.vals = append(l.vals, item)
	}
	return nil
}

// readInput reads --input: inline JSON, or @file.
func readInput(s string) ([]byte, error) {
	if strings.HasPrefix(s, "@") {
		b, err := os.ReadFile(s[1:])
		if err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
		return b, nil
	}
	return []byte(s), nil
}
