package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

// ids of a listing, in order.
func ids(ins []*store.Instance) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.ID
	}
	return out
}

// listAll pages through q with its limit and checks that every page but the
// last is full and carries a cursor.
func listAll(t *testing.T, s store.Store, q store.Query) []string {
	t.Helper()
	var all []string
	for page := 0; ; page++ {
		ins, next, err := s.List(q)
		if err != nil {
			t.Fatalf("list %+v: %v", q, err)
		}
		all = append(all, ids(ins)...)
		if next == "" {
			return all
		}
		if q.Limit > 0 && len(ins) != q.Limit {
			t.Errorf("page %d of %+v has %d instances and a next cursor; want a full page", page, q, len(ins))
		}
		if page > 1000 {
			t.Fatalf("list %+v does not end", q)
		}
		q.Cursor = next
	}
}

// seedList stores 25 instances started one second apart: i%2 picks the
// workflow, i%3 the status, i<10 the version (v1, else v2).
func seedList(t *testing.T, s store.Store) (newestFirst []string) {
	statuses := []store.Status{store.Running, store.Waiting, store.Succeeded}
	var b store.Batch
	for i := range 25 {
		id := fmt.Sprintf("inst-%02d", i)
		in := newInstance(id, fmt.Sprintf("wf%d", i%2), statuses[i%3], at(i))
		if i >= 10 {
			in.Version = "v2"
		}
		b.Instances = append(b.Instances, in)
		newestFirst = append(newestFirst, id)
	}
	commit(t, s, &b)
	slices.Reverse(newestFirst)
	return newestFirst
}

func testListOrder(t *testing.T, s store.Store) {
	all := seedList(t, s)

	ins, next, err := s.List(store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(ins); !slices.Equal(got, all) || next != "" {
		t.Errorf("default list = %v (next %q), want %v and no cursor", got, next, all)
	}
	for _, limit := range []int{1, 7, 10, 24, 25, 26} {
		if got := listAll(t, s, store.Query{Limit: limit}); !slices.Equal(got, all) {
			t.Errorf("paged by %d: %v, want %v", limit, got, all)
		}
	}

	// A new instance does not shift pages already handed out.
	ins, next, err = s.List(store.Query{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	upsert(t, s, newInstance("newest", "wf0", store.Running, at(100)))
	rest := listAll(t, s, store.Query{Limit: 5, Cursor: next})
	if got := append(ids(ins), rest...); !slices.Equal(got, all) {
		t.Errorf("pages around a new start: %v, want %v", got, all)
	}
	if _, _, err := s.List(store.Query{Cursor: "!not a cursor"}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("a malformed cursor: %v, want store.ErrBadCursor", err)
	}
}

func testListFilters(t *testing.T, s store.Store) {
	all := seedList(t, s)
	filter := func(keep func(i int) bool) []string {
		var out []string
		for _, id := range all {
			var i int
			fmt.Sscanf(id, "inst-%d", &i)
			if keep(i) {
				out = append(out, id)
			}
		}
		return out
	}
	cases := []struct {
		q    store.Query
		want []string
	}{
		{store.Query{Workflow: "wf1"}, filter(func(i int) bool { return i%2 == 1 })},
		{store.Query{Status: store.Waiting}, filter(func(i int) bool { return i%3 == 1 })},
		{store.Query{Workflow: "wf0", Status: store.Succeeded}, filter(func(i int) bool { return i%2 == 0 && i%3 == 2 })},
		{store.Query{Workflow: "nope"}, nil},
		{store.Query{Status: store.Cancelled}, nil},
		{store.Query{Version: "v1"}, filter(func(i int) bool { return i < 10 })},
		{store.Query{Workflow: "wf1", Version: "v2", Status: store.Running},
			filter(func(i int) bool { return i%2 == 1 && i >= 10 && i%3 == 0 })},
		{store.Query{IDContains: "-1"}, filter(func(i int) bool { return i >= 10 && i < 20 })},
		{store.Query{IDContains: "3", Workflow: "wf0"}, filter(func(i int) bool { return i%2 == 0 && (i%10 == 3 || i/10 == 3) })},
		{store.Query{IDContains: "inst-99"}, nil},
	}
	for _, c := range cases {
		for _, limit := range []int{0, 1, 2, 3, 4, 100} {
			q := c.q
			q.Limit = limit
			if got := listAll(t, s, q); !slices.Equal(got, c.want) {
				t.Errorf("list %+v = %v, want %v", q, got, c.want)
			}
		}
	}
}

func testListFollowsUpdates(t *testing.T, s store.Store) {
	a := newInstance("a", "wf", store.Running, at(0))
	b := newInstance("b", "wf", store.Running, at(1))
	upsert(t, s, a, b)
	a.Status = store.Succeeded
	upsert(t, s, a)
	if got := listAll(t, s, store.Query{Status: store.Running}); !slices.Equal(got, []string{"b"}) {
		t.Errorf("running = %v, want [b]", got)
	}
	if got := listAll(t, s, store.Query{Status: store.Succeeded}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("succeeded = %v, want [a]", got)
	}
	// A changed start time moves the instance, without a stale entry.
	a.StartedAt = at(2)
	upsert(t, s, a)
	if got := listAll(t, s, store.Query{}); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("after a restart of a: %v, want [a b]", got)
	}
	// Instances started at the same moment are all listed.
	c := newInstance("c", "wf", store.Running, at(2))
	upsert(t, s, c)
	if got := listAll(t, s, store.Query{Limit: 1}); len(got) != 3 || got[2] != "b" {
		t.Errorf("with a tie: %v, want a and c, then b", got)
	}
}

func testCount(t *testing.T, s store.Store) {
	seedList(t, s)
	// What the filters of seedList's instances give, tallied by hand.
	want := map[store.Tally]int{}
	statuses := []store.Status{store.Running, store.Waiting, store.Succeeded}
	for i := range 25 {
		k := store.Tally{Workflow: fmt.Sprintf("wf%d", i%2), Version: "v1", Status: statuses[i%3]}
		if i >= 10 {
			k.Version = "v2"
		}
		want[k]++
	}
	check := func(q store.Query, keep func(store.Tally) bool) {
		t.Helper()
		got, err := s.Count(q)
		if err != nil {
			t.Fatalf("count %+v: %v", q, err)
		}
		var exp []store.Tally
		for k, n := range want {
			if keep(k) {
				k.Count = n
				exp = append(exp, k)
			}
		}
		store.SortTallies(exp)
		if !slices.Equal(got, exp) {
			t.Errorf("count %+v = %v, want %v", q, got, exp)
		}
	}
	check(store.Query{}, func(store.Tally) bool { return true })
	check(store.Query{Workflow: "wf1"}, func(k store.Tally) bool { return k.Workflow == "wf1" })
	check(store.Query{Version: "v2", Status: store.Waiting}, func(k store.Tally) bool {
		return k.Version == "v2" && k.Status == store.Waiting
	})
	check(store.Query{Workflow: "nope"}, func(store.Tally) bool { return false })
	// Limit and cursor do not narrow a count.
	check(store.Query{Limit: 1, Cursor: "ignored"}, func(store.Tally) bool { return true })

	got, err := s.Count(store.Query{IDContains: "inst-2"})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, k := range got {
		total += k.Count
	}
	if total != 5 { // inst-20 to inst-24
		t.Errorf("count of ids holding inst-2 = %d (%v), want 5", total, got)
	}

	// A status change moves the instance from one tally to the other.
	in := mustInstance(t, s, "inst-00")
	in.Status = store.Cancelled
	upsert(t, s, in)
	want[store.Tally{Workflow: "wf0", Version: "v1", Status: store.Running}]--
	want[store.Tally{Workflow: "wf0", Version: "v1", Status: store.Cancelled}]++
	check(store.Query{Workflow: "wf0", Version: "v1"}, func(k store.Tally) bool {
		return k.Workflow == "wf0" && k.Version == "v1"
	})
	// So does a migration to another version.
	in.Version = "v2"
	upsert(t, s, in)
	want[store.Tally{Workflow: "wf0", Version: "v1", Status: store.Cancelled}]--
	want[store.Tally{Workflow: "wf0", Version: "v2", Status: store.Cancelled}]++
	check(store.Query{Workflow: "wf0"}, func(k store.Tally) bool { return k.Workflow == "wf0" && want[k] > 0 })
	if got := listAll(t, s, store.Query{Version: "v1", Workflow: "wf0", Status: store.Cancelled}); len(got) != 0 {
		t.Errorf("after the move, v1 still lists %v", got)
	}
}
