package store_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// canonical builds the documented encoding of an event by hand, field by
// field, so that the test holds ChainHash to what docs/guarantees.md
// tells clients.
func canonical(prev store.Hash, fields ...string) store.Hash {
	b := append([]byte{}, prev[:]...)
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return sha256.Sum256(b)
}

func chainEvent(seq uint64) store.Event {
	return store.Event{Instance: "order-1", Seq: seq, Type: store.EventTaskSucceeded,
		Time: time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600)), State: "Charge",
		Output: json.RawMessage(`{"ok":true}`), Attempt: 2, Cause: "é\x00"}
}

func TestChainHashFollowsTheDocumentedEncoding(t *testing.T) {
	ev := chainEvent(7)
	var prev store.Hash
	prev[0] = 0xAB
	want := canonical(prev, "orbit.event.v1", "order-1", "7", "TaskSucceeded", "2026-03-01T09:00:00.123Z", "Charge",
		"", `{"ok":true}`, "", "é\x00", "2", "0", "", "", "", "")
	if got := store.ChainHash(prev, &ev); got != want {
		t.Fatalf("ChainHash = %s, want %s", got, want)
	}
	ev.Hash = want // the hash itself is not hashed
	if got := store.ChainHash(prev, &ev); got != want {
		t.Fatal("an event's own hash changed its hash")
	}
	ev.Output = json.RawMessage(`{"ok":false}`)
	if store.ChainHash(prev, &ev) == want {
		t.Fatal("a changed output kept its hash")
	}
}

// TestChainHashOfAnyTime: the time is laid out as the documented layout
// says for every year, those written digit by digit and the rest.
func TestChainHashOfAnyTime(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 12, 2, 4, 5, 6, 7000000, time.FixedZone("W", -9*3600)), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 6, 1, 12, 0, 0, 500000000, time.UTC), {},
	} {
		ev := chainEvent(3)
		ev.Time = at
		want := canonical(store.Hash{}, "orbit.event.v1", "order-1", "3", "TaskSucceeded",
			at.UTC().Format("2006-01-02T15:04:05.000Z"), "Charge", "", `{"ok":true}`, "", "é\x00", "2", "0", "", "", "", "")
		if got := store.ChainHash(store.Hash{}, &ev); got != want {
			t.Errorf("time %s: ChainHash = %s, want %s", at, got, want)
		}
	}
}

func TestChainHashAllocatesNothing(t *testing.T) {
	ev := chainEvent(1)
	ev.Cause = strings.Repeat("long cause ", 40) // longer than the scratch space
	if n := testing.AllocsPerRun(100, func() { store.ChainHash(store.Hash{}, &ev) }); n != 0 {
		t.Fatalf("%v allocations per hash, want 0", n)
	}
}

func TestHashText(t *testing.T) {
	h := store.ChainHash(store.Hash{}, new(store.Event))
	b, err := json.Marshal(struct {
		H store.Hash `json:"h,omitzero"`
		Z store.Hash `json:"z,omitzero"`
	}{H: h})
	if err != nil || string(b) != `{"h":"`+h.String()+`"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	var back store.Hash
	if err := back.UnmarshalText([]byte(h.String())); err != nil || back != h {
		t.Fatalf("unmarshal = %s, %v", back, err)
	}
	if err := back.UnmarshalText([]byte("abc")); err == nil {
		t.Fatal("a short hash was read")
	}
}

// chain makes a history of n events, the first legacy of them unhashed as
// history written before the chain existed, and the record it ends in.
func chain(n, legacy int) ([]store.Event, *store.Instance) {
	in := &store.Instance{Public: store.Public{ID: "order-1"}}
	var evs []store.Event
	for i := range n {
		in.Seq++
		ev := chainEvent(in.Seq)
		ev.Output = json.RawMessage(`{"step":` + string(rune('0'+i%10)) + `}`)
		if i >= legacy {
			ev.Hash = store.ChainHash(in.Chain, &ev)
			in.Chain = ev.Hash
		}
		ev.Instance = "" // as stores read it back
		evs = append(evs, ev)
	}
	return evs, in
}

func checkChain(evs []store.Event, in *store.Instance) error {
	c := store.NewChainChecker(in.ID)
	for i := range evs {
		if err := c.Add(&evs[i]); err != nil {
			return err
		}
	}
	return c.Finish(in)
}

func TestChainChecker(t *testing.T) {
	for _, legacy := range []int{0, 3} {
		evs, in := chain(6, legacy)
		if err := checkChain(evs, in); err != nil {
			t.Fatalf("legacy %d: a sound chain: %v", legacy, err)
		}
	}
	if evs, in := chain(4, 4); checkChain(evs, in) != nil || in.Head() != nil {
		t.Fatal("a history written before the chain existed is refused, or has a head")
	}

	cases := []struct {
		name   string
		damage func([]store.Event, *store.Instance) []store.Event
		want   string
	}{
		{"edited output", func(e []store.Event, _ *store.Instance) []store.Event {
			e[2].Output = json.RawMessage(`{"step":9}`)
			return e
		}, "history event 3: (TaskSucceeded) does not match its hash"},
		{"edited first event", func(e []store.Event, _ *store.Instance) []store.Event {
			e[0].State = "Refund"
			return e
		}, "history event 1: (TaskSucceeded) does not match its hash"},
		{"removed event", func(e []store.Event, _ *store.Instance) []store.Event {
			return append(e[:2], e[3:]...)
		}, "history event 4: follows event 2: events 3 to 3 are missing"},
		{"removed start", func(e []store.Event, _ *store.Instance) []store.Event { return e[1:] },
			"history starts at event 2"},
		{"stripped hash", func(e []store.Event, _ *store.Instance) []store.Event {
			e[3].Hash = store.Hash{}
			return e
		}, "history event 4: (TaskSucceeded) has no hash"},
		{"cut tail", func(e []store.Event, _ *store.Instance) []store.Event { return e[:4] },
			"head is at event 6, but the history ends at event 4"},
		{"record head changed", func(e []store.Event, in *store.Instance) []store.Event {
			in.Chain[0] ^= 1
			return e
		}, "is not the hash of its last event 6"},
		{"record head removed", func(e []store.Event, in *store.Instance) []store.Event {
			in.Chain = store.Hash{}
			return e
		}, "has no head, though its history is hashed up to event 6"},
	}
	for _, c := range cases {
		evs, in := chain(6, 0)
		err := checkChain(c.damage(evs, in), in)
		if !errors.Is(err, store.ErrBrokenChain) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBrokenChain saying %q", c.name, err, c.want)
		}
	}
}

// BenchmarkChainHash measures hashing one event of a step's usual size.
func BenchmarkChainHash(b *testing.B) {
	ev := chainEvent(5)
	ev.Output = json.RawMessage(`{"order":{"id":"o-1","total":42.5,"items":[1,2,3]},"charged":true}`)
	b.ReportAllocs()
	var h store.Hash
	for b.Loop() {
		h = store.ChainHash(h, &ev)
	}
}
