package transfer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/orbit-sidecar/orbit/store"
)

// reader reads a stream line by line and checks it as it goes: the header
// first, each line whole, and at the end the tally and digest of the end
// line against what came before.
type reader struct {
	br     *bufio.Reader
	sum    hash.Hash
	bytes  int64
	lineNo int
	counts Counts
	header *line
	ended  bool
}

func newReader(r io.Reader) *reader {
	return &reader{br: bufio.NewReaderSize(r, 256<<10), sum: sha256.New()}
}

// errAt says where in the stream a problem is.
func (r *reader) errAt(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", r.lineNo, fmt.Sprintf(format, args...))
}

// next returns the next line, or io.EOF once the end line has been read
// and the stream checked whole.
func (r *reader) next() (*line, error) {
	raw, err := r.br.ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read after line %d: %w", r.lineNo, err)
	}
	if len(bytes.TrimSpace(raw)) == 0 && errors.Is(err, io.EOF) {
		switch {
		case r.ended:
			return nil, io.EOF
		case r.lineNo == 0:
			return nil, errors.New("the stream is empty: it holds no Orbit export")
		default:
			return nil, fmt.Errorf("the stream ends after line %d without its end line: it was cut short (an export that failed or was interrupted); nothing after line %d exists", r.lineNo, r.lineNo)
		}
	}
	r.lineNo++
	if r.ended {
		return nil, r.errAt("more data follows the end line")
	}
	if raw[len(raw)-1] != '\n' {
		return nil, r.errAt("the stream ends inside a line: it was cut short")
	}
	l := new(line)
	if err := json.Unmarshal(raw, l); err != nil {
		return nil, r.errAt("not a line of an Orbit export: %v", err)
	}
	if r.lineNo == 1 {
		if l.Kind != kindHeader {
			return nil, r.errAt("not an Orbit export: it begins with %q, not %q", l.Kind, kindHeader)
		}
		if l.Format < 1 || l.Format > Format {
			return nil, r.errAt("export format %d is newer than this orbit reads (%d): import it with the orbit that wrote it or a newer one", l.Format, Format)
		}
		r.header = l
	} else if err := r.check(l); err != nil {
		return nil, err
	}
	if l.Kind == kindEnd {
		if got := hex.EncodeToString(r.sum.Sum(nil)); got != l.SHA256 {
			return nil, r.errAt("the stream's SHA-256 is %s, but its end line says %s: it was altered or damaged", got, l.SHA256)
		}
		if *l.Counts != r.counts {
			return nil, r.errAt("the stream holds %s, but its end line counts %s", r.counts, *l.Counts)
		}
		r.ended = true
	}
	r.sum.Write(raw)
	r.bytes += int64(len(raw))
	r.counts.add(l)
	return l, nil
}

// check rejects a line that Import could not write whole.
func (r *reader) check(l *line) error {
	switch l.Kind {
	case kindHeader:
		return r.errAt("a second header")
	case kindBundle:
		if l.Bundle == nil || l.Bundle.Hash == "" {
			return r.errAt("a bundle without its hash")
		}
	case kindKV:
		if l.NS == "" || l.Key == "" {
			return r.errAt("a plugin value without its namespace or key")
		}
		if l.Value == nil {
			l.Value = []byte{} // an empty value, which a nil one would delete
		}
	case kindInstance:
		in := l.Instance
		if in == nil || in.ID == "" {
			return r.errAt("an instance line without its record")
		}
		for i := range l.History {
			ev := &l.History[i]
			if ev.Seq == 0 || i > 0 && ev.Seq <= l.History[i-1].Seq {
				return r.errAt("instance %q: history event %d has seq %d, out of order", in.ID, i+1, ev.Seq)
			}
			ev.Instance = in.ID
		}
		for _, t := range l.Timers {
			if t.Instance != in.ID {
				return r.errAt("instance %q: a timer of instance %q", in.ID, t.Instance)
			}
		}
		for _, p := range l.Pending {
			if p.Instance != in.ID {
				return r.errAt("instance %q: a kept event of instance %q", in.ID, p.Instance)
			}
		}
		if err := (&store.Batch{Instances: []*store.Instance{in}, Events: l.History}).Validate(); err != nil {
			return r.errAt("%v", err)
		}
	case kindTimer:
		if len(l.Timers) == 0 {
			return r.errAt("a timer line without timers")
		}
	case kindPending:
		if len(l.Pending) == 0 {
			return r.errAt("a kept event line without events")
		}
	case kindEnd:
		if l.Counts == nil {
			return r.errAt("an end line without its counts")
		}
	default:
		return r.errAt("unknown kind of line %q (kinds: %s)", l.Kind, strings.Join([]string{
			string(kindHeader), string(kindBundle), string(kindKV), string(kindInstance), string(kindTimer), string(kindPending), string(kindEnd)}, ", "))
	}
	return nil
}

// Check reads a whole stream and checks it — every line, the end line's
// tally and digest — writing nothing. It returns what the stream holds.
func Check(r io.Reader) (Counts, int64, error) {
	rd := newReader(r)
	for {
		if _, err := rd.next(); err != nil {
			if errors.Is(err, io.EOF) {
				return rd.counts, rd.bytes, nil
			}
			return rd.counts, rd.bytes, err
		}
	}
}
