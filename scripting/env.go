package scripting

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// tokenVar is the API token's variable, which no script may read whatever
// the operator exposes.
const tokenVar = "ORBIT_TOKEN"

// Env is the operator's choice of the process environment variables
// scripts may read, with env(name) and with ${NAME} in http routines
// (orbit's --script-env). The zero Env exposes none; ORBIT_TOKEN is never
// exposed.
type Env struct {
	names    map[string]bool
	prefixes []string // from PREFIX* patterns; "" (from "*") matches all
}

// ParseEnv reads a list of variable names and PREFIX* patterns separated
// by commas or spaces, such as "SHOP_URL,PAYMENTS_*". "*" exposes every
// variable but the token.
func ParseEnv(list string) (Env, error) {
	var e Env
	for _, item := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		name, pattern := strings.CutSuffix(item, "*")
		if !validEnvName(name, pattern) {
			return Env{}, fmt.Errorf("%q is neither a variable name nor a PREFIX* pattern", item)
		}
		if pattern {
			e.prefixes = append(e.prefixes, name)
			continue
		}
		if e.names == nil {
			e.names = map[string]bool{}
		}
		e.names[name] = true
	}
	return e, nil
}

// validEnvName reports whether s is a variable name, or with pattern set
// the prefix of one (empty allowed).
func validEnvName(s string, pattern bool) bool {
	if s == "" {
		return pattern
	}
	for i, c := range s {
		if c != '_' && !('A' <= c && c <= 'Z') && !('a' <= c && c <= 'z') && (i == 0 || !('0' <= c && c <= '9')) {
			return false
		}
	}
	return true
}

// Exposes reports whether scripts may read the variable name.
func (e Env) Exposes(name string) bool {
	if name == tokenVar {
		return false
	}
	if e.names[name] {
		return true
	}
	for _, p := range e.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// String lists the names and patterns, as ParseEnv reads them.
func (e Env) String() string {
	items := make([]string, 0, len(e.names)+len(e.prefixes))
	for n := range e.names {
		items = append(items, n)
	}
	for _, p := range e.prefixes {
		items = append(items, p+"*")
	}
	sort.Strings(items)
	return strings.Join(items, ",")
}

// lookup returns a variable's value when scripts may read it, as env()
// does; hidden reports a variable that is set but not exposed.
func (e Env) lookup(name string) (val string, ok, hidden bool) {
	val, set := os.LookupEnv(name)
	if !set {
		return "", false, false
	}
	if !e.Exposes(name) {
		return "", false, true
	}
	return val, true, false
}

// envError says why a variable cannot be read, for the load problem of
// a ${NAME} without a fallback.
func envError(name string, hidden bool) error {
	switch {
	case name == tokenVar:
		return fmt.Errorf("environment variable %s is never exposed to scripts", name)
	case hidden:
		return fmt.Errorf("environment variable %s is not exposed to scripts (add it to --script-env)", name)
	}
	return fmt.Errorf("environment variable %s is not set", name)
}
