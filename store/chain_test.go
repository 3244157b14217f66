package store_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"runtime"
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

// TestChainHashOfLargeEvents: an event too large for the stack buffer is
// streamed into the digest, with the same encoding at every size around
// the buffer's and its chunks' edges.
func TestChainHashOfLargeEvents(t *testing.T) {
	for _, n := range []int{900, 1000, 1023, 1024, 1025, 2048, 2049, 70000} {
		ev := chainEvent(9)
		ev.Output = json.RawMessage(`"` + strings.Repeat("o", n) + `"`)
		ev.Cause = strings.Repeat("c", n/2)
		want := canonical(store.Hash{1}, "orbit.event.v1", "order-1", "9", "TaskSucceeded", "2026-03-01T09:00:00.123Z",
			"Charge", "", string(ev.Output), "", ev.Cause, "2", "0", "", "", "", "")
		if got := store.ChainHash(store.Hash{1}, &ev); got != want {
			t.Errorf("output of %d bytes: ChainHash = %s, want %s", n, got, want)
		}
	}
}

// TestChainHasherAllocatesNothing: a kept hasher hashes small and large
// events without allocating, and a large payload is streamed, not copied.
func TestChainHasherAllocatesNothing(t *testing.T) {
	small := chainEvent(1)
	small.Cause = strings.Repeat("long cause ", 40)
	large := chainEvent(2)
	large.Output = json.RawMessage(`"` + strings.Repeat("o", 64<<10) + `"`)
	var h store.ChainHasher
	for _, ev := range []*store.Event{&small, &large} {
		if n := testing.AllocsPerRun(100, func() { h.Hash(store.Hash{}, ev) }); n != 0 {
			t.Errorf("event %d: %v allocations per hash, want 0", ev.Seq, n)
		}
		if h.Hash(store.Hash{}, ev) != store.ChainHash(store.Hash{}, ev) {
			t.Errorf("event %d: a kept hasher's hash differs from ChainHash's", ev.Seq)
		}
	}
}

// TestChainHashOfALargeEventAllocatesLittle: hashing a large payload costs
// a digest and a buffer, not a copy of the payload.
func TestChainHashOfALargeEventAllocatesLittle(t *testing.T) {
	ev := chainEvent(1)
	ev.Output = json.RawMessage(`"` + strings.Repeat("o", 64<<10) + `"`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 100
	for range runs {
		store.ChainHash(store.Hash{}, &ev)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 4<<10 {
		t.Fatalf("%d bytes allocated per hash of a 64 KiB output, want a digest's and a buffer's (under 4 KiB)", per)
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
	var (
		hasher store.ChainHasher // as the engine keeps one
		h      store.Hash
	)
	for b.Loop() {
		h = hasher.Hash(h, &ev)
	}
}

// chainFixtureEvents are events whose hashes the chain's first encoding
// gave, chained in order: every field, empty and full, non-ASCII and
// control characters, large numbers, and times of every kind (another
// zone, sub-millisecond, before 1970, years 0 and 10000, the zero time).
func chainFixtureEvents() []store.Event {
	w := time.FixedZone("W", -9*3600-30*60)
	return []store.Event{
		{Instance: "order-1", Seq: 1, Type: store.EventExecutionStarted, Time: time.Date(2026, 12, 2, 4, 5, 6, 7000000, time.UTC), Input: []byte(`{"a":1}`)},
		{Instance: "order-1", Seq: 2, Type: store.EventStateEntered, Time: time.Date(2026, 12, 2, 4, 5, 6, 7999999, w), State: "Charge é ✓", Input: []byte(`{"a":[1,2,{"b":null}]}`)},
		{Instance: "order-1", Seq: 3, Type: store.EventTaskFailed, Time: time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.UTC), State: "Charge", Error: "Http.503", Cause: "a\x00b\nc\"d\\", Attempt: 7, DelayMS: -1500},
		{Instance: "order-1", Seq: 1<<64 - 1, Type: store.EventTaskSucceeded, Time: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), Output: []byte(`"x"`), Attempt: 1 << 30, DelayMS: 1<<63 - 1},
		{Instance: "order-1", Seq: 5, Type: store.EventStateExited, Time: time.Date(10000, 1, 1, 0, 0, 0, 1000000, time.UTC), State: "Charge", Output: []byte(`{}`)},
		{Instance: "order-1", Seq: 6, Type: store.EventTimerStarted, Time: time.Date(-1, 6, 1, 12, 0, 0, 500000000, time.UTC), Event: "answer", Child: "order-1/child", From: "v1", To: "v2"},
		{Instance: "", Seq: 0, Type: "", Time: time.Time{}},
		{Instance: "order-1", Seq: 8, Type: store.EventExecutionSucceeded, Time: time.Unix(1764648306, 123456789).In(w), Output: []byte(`{"big":123456789012345678901234567890}`)},
	}
}

// TestChainHashOfStoredHistories: histories written before the chain hash
// was built in one buffer still verify. The hashes below are what the
// first encoding (hashed field by field) gave for chainFixtureEvents.
func TestChainHashOfStoredHistories(t *testing.T) {
	want := []string{
		"923c6f7197db8def9db7ee7ca794da9ee3fff4b849cdd5bffd0b6e5685ac9bf1",
		"7da8ead83cebe7c38e40703ec78e22d2840328fa793dde88cbe15007d750c522",
		"f8097b01cd50598f0aec40533f02c8f6dc4198f3222cfb185a7c60176b5f2ae2",
		"8be87ab92fdb4de1ef91163e2a6e3305e23cfc5fdf4d5e960017b49331b5f9ad",
		"9797d5e189915d4d5bf91337c161cd8765c5e45ac2725224f2f9ceeeac586129",
		"556853c3c118d4d764f2067c5c53b5a0c6f5f62b5c500aa4df5edd9717e53f83",
		"b1b42f361f7a76bc822a09712ad2eaeb05a24ba0881b76ebb3990baa28948e15",
		"7f1e8e7b0b68f4005cd9ea71002f4d34f868d0e67d8b45d6c5f11625fb220ee6",
	}
	var prev store.Hash
	for i, ev := range chainFixtureEvents() {
		prev = store.ChainHash(prev, &ev)
		if got := prev.String(); got != want[i] {
			t.Errorf("event %d: ChainHash = %s, want %s as stored", i, got, want[i])
		}
	}
}
