package nats

import (
	"fmt"
	"strconv"
	"strings"
)

// A subject token may hold neither '.', '*', '>' nor white space, and
// instance ids, event names, timer kinds and plugin keys may hold any of
// them ('.' is common in ids). escape keeps letters, digits, '_', ':' and
// '-' and writes every other byte as '~' and two hex digits, so that a
// token is reversible and a prefix of one name is never mistaken for
// another name's token.

// escape makes s one subject token.
func escape(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			plain = false
			break
		}
	}
	if plain && s != "" {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	if s == "" {
		return "~" // an empty name still needs a token
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if tokenByte(c) {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('~')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' || c == '-'
}

// unescape reverses escape.
func unescape(tok string) (string, error) {
	if tok == "~" {
		return "", nil
	}
	if !strings.Contains(tok, "~") {
		return tok, nil
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		if tok[i] != '~' {
			b.WriteByte(tok[i])
			continue
		}
		if i+2 >= len(tok) {
			return "", fmt.Errorf("bad escape in subject token %q", tok)
		}
		v, err := strconv.ParseUint(tok[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in subject token %q", tok)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// subjects builds the subjects of one store; root is its stream's name.
type subjects struct{ root string }

// Every instance's entries share the prefix root.x.<id>, so one purge with
// the filter root.x.<id>.> removes all of them.
func (s subjects) instance(id string) string { return s.root + ".x." + escape(id) }
func (s subjects) record(id string) string   { return s.instance(id) + ".r" }
func (s subjects) event(id string, seq uint64) string {
	return s.instance(id) + ".h." + strconv.FormatUint(seq, 10)
}
func (s subjects) history(id string) string { return s.instance(id) + ".h.*" }
func (s subjects) timer(id string, at uint64, kind string) string {
	return s.instance(id) + ".t." + pad(at) + "." + escape(kind)
}

// schedule is the scheduled message that publishes fired(...) when the
// timer of the same key falls due.
func (s subjects) schedule(id string, at uint64, kind string) string {
	return s.instance(id) + ".s." + pad(at) + "." + escape(kind)
}
func (s subjects) fired(id string, at uint64, kind string) string {
	return s.instance(id) + ".f." + pad(at) + "." + escape(kind)
}
func (s subjects) wake(id string) string  { return s.instance(id) + ".q" }
func (s subjects) guard(id string) string { return s.instance(id) + ".g" }
func (s subjects) lease(id string) string { return s.instance(id) + ".l" }
func (s subjects) pending(id, name string, seq uint64) string {
	return s.instance(id) + ".p." + escape(name) + "." + pad(seq)
}
func (s subjects) pendingOf(id, name string) string {
	return s.instance(id) + ".p." + escape(name) + ".*"
}
func (s subjects) allPending(id string) string { return s.instance(id) + ".p.*.*" }
func (s subjects) bundle(hash string) string   { return s.root + ".b." + escape(hash) }
func (s subjects) kv(ns, key string) string    { return s.root + ".kv." + escape(ns) + "." + escape(key) }

func (s subjects) kvOf(ns string) string { return s.root + ".kv." + escape(ns) + ".*" }

// Filters that select one kind of entry across all instances.
func (s subjects) allRecords() string { return s.root + ".x.*.r" }
func (s subjects) allTimers() string  { return s.root + ".x.*.t.*.*" }
func (s subjects) allBundles() string { return s.root + ".b.*" }
func (s subjects) everything() string { return s.root + ".>" }

// Work is a wake-up or a fired timer of any instance.
func (s subjects) allWakes() string { return s.root + ".x.*.q" }
func (s subjects) allFired() string { return s.root + ".x.*.f.*.*" }

// node is where sidecar node answers Calls: outside the stream, so a
// request is never stored.
func (s subjects) node(node string) string { return s.root + "_node." + escape(node) }

// barrier is a scanning process's own subject (see Store.consume).
func (s subjects) barrier(process string) string { return s.root + ".scan." + process }

// pad writes n with 20 digits, so that subjects of numbers sort as the
// numbers do when a reader lists them.
func pad(n uint64) string {
	var b [20]byte
	v := strconv.AppendUint(b[:0], n, 10)
	out := make([]byte, 20)
	for i := range out {
		out[i] = '0'
	}
	copy(out[20-len(v):], v)
	return string(out)
}

// tokens splits a subject into its tokens.
func tokens(subject string) []string { return strings.Split(subject, ".") }

// parseTimer reads a timer's instance, time and kind from its subject
// root.x.<id>.t.<at>.<kind> (or .f. for a fired one).
func parseTimer(subject string) (id string, at uint64, kind string, err error) {
	t := tokens(subject)
	if len(t) != 6 || t[1] != "x" || t[3] != "t" && t[3] != "f" {
		return "", 0, "", fmt.Errorf("not a timer subject: %q", subject)
	}
	if id, err = unescape(t[2]); err != nil {
		return "", 0, "", err
	}
	if at, err = strconv.ParseUint(t[4], 10, 64); err != nil {
		return "", 0, "", fmt.Errorf("timer subject %q: %w", subject, err)
	}
	kind, err = unescape(t[5])
	return id, at, kind, err
}

// parseRecord reads the instance id from a record's subject root.x.<id>.r.
func parseRecord(subject string) (string, error) { return parseOwn(subject, "r") }

// parseOwn reads the instance id from a subject root.x.<id>.<what>.
func parseOwn(subject, what string) (string, error) {
	t := tokens(subject)
	if len(t) != 4 || t[1] != "x" || t[3] != what {
		return "", fmt.Errorf("not a %s subject: %q", what, subject)
	}
	return unescape(t[2])
}

// lastToken is what follows a subject's last dot.
func lastToken(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}
