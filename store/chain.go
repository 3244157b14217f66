package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"
)

// An instance's history is a hash chain: each event carries
// SHA-256(previous event's hash || canonical encoding of the event), the
// first hashed event chaining to 32 zero bytes, and the instance record
// keeps the hash of its last event (its head). The engine computes it
// where events are made, so every store carries the same chain, and an
// event changed after it was written no longer matches its hash or its
// successor's link. History written before the chain existed has no
// hashes: the chain starts at the instance's first hashed event.
//
// The canonical encoding (version 1) is, after the previous hash, each of
// these fields as a 4-byte big-endian length and its bytes: the text
// "orbit.event.v1", the instance id, seq in decimal, type, time as RFC 3339
// in UTC with exactly three fractional digits (truncated), state, input,
// output, error, cause, attempt in decimal, delay_ms in decimal, event,
// child, from_version and to_version. Strings are their UTF-8 bytes,
// payloads their JSON text as stored and served, and an absent field is
// empty (a number absent is "0"). docs/guarantees.md repeats it for
// clients that check receipts.

// HashSize is the length of a chain hash in bytes.
const HashSize = sha256.Size

// Hash is a link of a history chain. The zero Hash means none: an event
// written before the chain existed, or an instance without hashed events.
type Hash [HashSize]byte

// IsZero reports whether h is no hash at all.
func (h Hash) IsZero() bool { return h == Hash{} }

// String is h in lower-case hexadecimal, as the API shows it.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// AppendText appends h in hexadecimal.
func (h Hash) AppendText(b []byte) ([]byte, error) { return hex.AppendEncode(b, h[:]), nil }

// MarshalText writes h in hexadecimal.
func (h Hash) MarshalText() ([]byte, error) { return h.AppendText(nil) }

// UnmarshalText reads a hash written by MarshalText; an empty text is the
// zero Hash.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*h = Hash{}
		return nil
	}
	if len(b) != 2*HashSize {
		return fmt.Errorf("a hash has %d hexadecimal digits, not %d", 2*HashSize, len(b))
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	return nil
}

// ChainHead is the last link of an instance's chain: what a client keeps
// as a receipt of the history up to Seq.
type ChainHead struct {
	Seq  uint64 `json:"seq"`
	Hash Hash   `json:"hash"`
}

// Head is the instance's chain head, nil while none of its events is
// hashed.
func (in *Instance) Head() *ChainHead {
	if in.Chain.IsZero() {
		return nil
	}
	return &ChainHead{Seq: in.Seq, Hash: in.Chain}
}

const chainTag = "orbit.event.v1"

// chainRoom is the size of a ChainHasher's buffer: an encoding that fits
// (most events) is hashed at once, a larger one is streamed into a digest
// through it, so that no allocation grows with an event's payload.
const chainRoom = 1024

// chainTime is the layout of an event's time in the canonical encoding:
// the API's, milliseconds and all.
const chainTime = "2006-01-02T15:04:05.000Z"

// appendChainTime appends t in UTC as chainTime lays it out, digit by
// digit for the years 0 to 9999, by time's formatter for any other.
func appendChainTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, chainTime)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	return append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// ChainHash is the hash of ev linked to prev (the zero Hash for the first
// hashed event of an instance). ev.Hash itself is not part of it. A caller
// hashing many events keeps a ChainHasher instead.
func ChainHash(prev Hash, ev *Event) Hash {
	var h ChainHasher
	return h.Hash(prev, ev)
}

// ChainHasher computes chain hashes with a buffer and a digest it keeps
// from one to the next. The zero value is ready; it is not safe for
// concurrent use.
type ChainHasher struct {
	buf    []byte
	digest hash.Hash // made when an encoding first outgrows buf
	stream bool      // this encoding outgrew buf: buf is written to digest when full
}

// Hash is ChainHash.
func (c *ChainHasher) Hash(prev Hash, ev *Event) Hash {
	if c.buf == nil {
		c.buf = make([]byte, 0, chainRoom)
	}
	c.buf, c.stream = c.buf[:0], false
	write(c, prev[:])
	field(c, chainTag)
	field(c, ev.Instance)
	var num [32]byte // seq, time, attempt and delay_ms in text, one at a time
	field(c, strconv.AppendUint(num[:0], ev.Seq, 10))
	field(c, string(ev.Type))
	field(c, appendChainTime(num[:0], ev.Time))
	field(c, ev.State)
	field(c, []byte(ev.Input))
	field(c, []byte(ev.Output))
	field(c, ev.Error)
	field(c, ev.Cause)
	field(c, strconv.AppendInt(num[:0], int64(ev.Attempt), 10))
	field(c, strconv.AppendInt(num[:0], ev.DelayMS, 10))
	field(c, ev.Event)
	field(c, ev.Child)
	field(c, ev.From)
	field(c, ev.To)
	if !c.stream {
		return sha256.Sum256(c.buf)
	}
	c.digest.Write(c.buf)
	var h Hash
	copy(h[:], c.digest.Sum(c.buf[:0])) // into the heap's buffer: h would escape
	return h
}

// field writes p with its length in front.
func field[T string | []byte](c *ChainHasher, p T) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(p)))
	write(c, n[:])
	write(c, p)
}

// write copies p into the buffer, handing the buffer to the digest each
// time it fills. Only the buffer reaches the digest: p may be on the
// caller's stack.
func write[T string | []byte](c *ChainHasher, p T) {
	for len(p) > 0 {
		if len(c.buf) == cap(c.buf) {
			if !c.stream {
				if c.digest == nil {
					c.digest = sha256.New()
				}
				c.digest.Reset()
				c.stream = true
			}
			c.digest.Write(c.buf)
			c.buf = c.buf[:0]
		}
		n := copy(c.buf[len(c.buf):cap(c.buf)], p)
		c.buf, p = c.buf[:len(c.buf)+n], p[n:]
	}
}

// ErrBrokenChain is returned, inside a *ChainError, for a history that
// does not match its hashes.
var ErrBrokenChain = errors.New("history chain is broken")

// ChainError names the first broken link of an instance's history.
type ChainError struct {
	Instance string
	Seq      uint64 // the event at fault (0: the instance record's head)
	Problem  string
}

func (e *ChainError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("instance %q: history chain: %s", e.Instance, e.Problem)
	}
	return fmt.Sprintf("instance %q: history event %d: %s", e.Instance, e.Seq, e.Problem)
}

// Is makes errors.Is(err, ErrBrokenChain) hold.
func (e *ChainError) Is(target error) bool { return target == ErrBrokenChain }

// ChainChecker checks one instance's history event by event, in order:
// sequence numbers contiguous from 1, events before the first hashed one
// (written before the chain existed) unhashed, every later one hashed and
// linked to the one before it.
type ChainChecker struct {
	Instance string
	next     uint64 // the seq the next event must have
	head     Hash   // the hash of the last event checked
	hashed   uint64 // events checked that carry a hash
	hasher   ChainHasher
}

// NewChainChecker starts checking the history of one instance.
func NewChainChecker(instance string) *ChainChecker {
	return &ChainChecker{Instance: instance, next: 1}
}

// Add checks the next event. ev.Instance may be empty (stores leave it out
// of what they read back); it is taken to be the checker's instance.
func (c *ChainChecker) Add(ev *Event) error {
	fail := func(format string, args ...any) error {
		return &ChainError{Instance: c.Instance, Seq: ev.Seq, Problem: fmt.Sprintf(format, args...)}
	}
	if ev.Seq != c.next {
		if c.next == 1 {
			return fail("the history starts at event %d, not 1: events are missing", ev.Seq)
		}
		return fail("follows event %d: events %d to %d are missing", c.next-1, c.next, ev.Seq-1)
	}
	c.next++
	if ev.Hash.IsZero() {
		if c.hashed > 0 {
			return fail("(%s) has no hash, though event %d before it has one: its hash was removed", ev.Type, c.next-2)
		}
		return nil
	}
	canon := *ev
	canon.Instance = c.Instance
	if c.hasher.Hash(c.head, &canon) != ev.Hash {
		if c.hashed == 0 {
			return fail("(%s) does not match its hash: the event or its hash was changed after it was written", ev.Type)
		}
		return fail("(%s) does not match its hash linked to event %d: the event or its hash was changed after it was written", ev.Type, ev.Seq-1)
	}
	c.head = ev.Hash
	c.hashed++
	return nil
}

// Hashed is how many of the events checked so far carry a hash.
func (c *ChainChecker) Hashed() uint64 { return c.hashed }

// Events is how many events were checked so far.
func (c *ChainChecker) Events() uint64 { return c.next - 1 }

// Finish checks the end of the history against the instance record's
// sequence number and head.
func (c *ChainChecker) Finish(in *Instance) error {
	fail := func(format string, args ...any) error {
		return &ChainError{Instance: c.Instance, Problem: fmt.Sprintf(format, args...)}
	}
	last := c.next - 1
	switch {
	case in.Chain.IsZero() && c.hashed > 0:
		return fail("the instance record has no head, though its history is hashed up to event %d: the record was changed", last)
	case in.Chain.IsZero():
		return nil
	case last != in.Seq:
		return fail("the instance record's head is at event %d, but the history ends at event %d", in.Seq, last)
	case in.Chain != c.head:
		return fail("the instance record's head %s is not the hash of its last event %d (%s): the record or the history was changed",
			in.Chain, last, c.head)
	}
	return nil
}
