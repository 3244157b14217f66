package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/bolt/bolttest"
	bbolt "go.etcd.io/bbolt"
)

// seedFile writes a closed store of n instances, each with two history
// events, a plugin namespace with a few keys (an inline bucket) and one
// with many (a bucket of its own pages), in several commits.
func seedFile(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orbit.db")
	db, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for lo := 0; lo < n; lo += 500 {
		var b store.Batch
		for i := lo; i < min(lo+500, n); i++ {
			id := fmt.Sprintf("inst-%05d", i)
			in := &store.Instance{Public: store.Public{ID: id, Workflow: "wf", Version: "v1", Status: store.Waiting,
				State: "Wait", Input: []byte(`{"n":` + fmt.Sprint(i) + `}`), StartedAt: start.Add(time.Duration(i) * time.Second)}, Bundle: "b1"}
			b.Instances = append(b.Instances, in)
			b.Events = append(b.Events, store.Event{Instance: id, Seq: 1, Type: "ExecutionStarted", Time: in.StartedAt},
				store.Event{Instance: id, Seq: 2, Type: "StateEntered", State: "Wait", Time: in.StartedAt})
			b.SetTimers = append(b.SetTimers, store.Timer{At: in.StartedAt.Add(time.Hour), Instance: id, Kind: "await"})
		}
		if err := db.Commit(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := db.KVPut("small", fmt.Sprint(i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		if i == 299 {
			// The last key is bbolt's last transaction alone (the store
			// moves what a window logged into bbolt in one), so that
			// falling back from it loses just that key.
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if db, err = bolt.Open(path, bolt.Options{NoSync: true}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.KVPut("large", fmt.Sprintf("key-%04d", i), bytes.Repeat([]byte("x"), 40)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// bbolt grows files well ahead of their pages; what lies past them is
	// of no use to the tests, which copy the file often.
	l := bolttest.ReadLayout(t, path)
	if err := os.Truncate(path, int64(l.Pages)*l.PageSize); err != nil {
		t.Fatal(err)
	}
	return path
}

// refused opens a damaged file and checks that Open refuses it with a
// message holding want and saying what to do, and wrote nothing to it.
func refused(t *testing.T, path string, opt bolt.Options, want ...string) error {
	t.Helper()
	before := bolttest.Sum(t, path)
	db, err := bolt.Open(path, opt)
	if err == nil {
		db.Close()
		t.Fatalf("a damaged file was opened")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal %q does not say %q", err, w)
		}
	}
	if bolttest.Sum(t, path) != before {
		t.Error("the refused file was written to")
	}
	return err
}

// TestOpenRefusesTruncatedFile cuts a file short inside its live pages,
// where bbolt's page walk at open faulted and killed the process.
func TestOpenRefusesTruncatedFile(t *testing.T) {
	path := seedFile(t, 2000)
	l := bolttest.ReadLayout(t, path)
	live := int64(l.Pages) * l.PageSize
	for _, size := range []int64{live / 2, live - 1, 3 * l.PageSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "orbit.db")
			copyFile(t, path, p)
			if err := os.Truncate(p, size); err != nil {
				t.Fatal(err)
			}
			err := refused(t, p, bolt.Options{}, "data file "+p+" is damaged", "cut short", fmt.Sprint(size), "backup")
			if !errors.Is(err, bolt.ErrDamagedFile) {
				t.Errorf("refusal %v is not ErrDamagedFile", err)
			}
		})
	}
}

// TestOpenRefusesDamagedPages changes bytes inside live pages, each of
// which made bbolt panic or fault at open, or read past a page later.
func TestOpenRefusesDamagedPages(t *testing.T) {
	path := seedFile(t, 2000)
	l := bolttest.ReadLayout(t, path)
	root := bolttest.BucketRoot(t, path, "instances")
	rootPage := bolttest.Page(t, path, l, root)
	if !bolttest.IsBranch(rootPage) || bolttest.Count(rootPage) < 3 {
		t.Fatalf("seeded instances bucket has no branch root with 3 children")
	}
	leaf := bolttest.FirstLeaf(t, path, l, root)
	leafPage := bolttest.Page(t, path, l, leaf)
	key1 := 16 + 16 + int(binary.NativeEndian.Uint32(leafPage[16+16+4:])) // element 1's address plus its key's position
	at := func(page uint64, off int) int64 { return int64(page)*l.PageSize + int64(off) }
	elem := func(i, field int) int { return 16 + 16*i + field } // element i, byte field within it
	putU64 := func(v uint64) func([]byte) { return func(b []byte) { binary.NativeEndian.PutUint64(b, v) } }
	cases := []struct {
		name string
		off  int64
		n    int
		fn   func([]byte)
		want string
	}{
		{"page id", at(leaf, 0), 1, func(b []byte) { b[0] ^= 0x0F }, fmt.Sprintf("page %d says it is page", leaf)},
		{"page type", at(leaf, 8), 1, func(b []byte) { b[0] ^= 0xFF }, "type flags"},
		{"element count", at(leaf, 11), 1, func(b []byte) { b[0] ^= 0xFF }, "more than fit"},
		{"key order", at(leaf, key1), 1, func(b []byte) { b[0] ^= 0x08 }, fmt.Sprintf("leaf page %d: key 1", leaf)},
		{"value size", at(leaf, elem(0, 15)), 1, func(b []byte) { b[0] ^= 0x40 }, "past the end of the page"},
		{"child outside the file", at(root, elem(1, 8)), 8, putU64(l.Pages + 7), "outside the pages in use"},
		{"child twice", at(root, elem(2, 8)), 8, putU64(bolttest.Child(rootPage, 1)), "referenced twice"},
		{"child is a meta page", at(root, elem(1, 8)), 8, putU64(1), "outside the pages in use"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "orbit.db")
			copyFile(t, path, p)
			bolttest.Change(t, p, c.off, c.n, c.fn)
			err := refused(t, p, bolt.Options{}, "data file "+p+" is damaged", c.want, "backup")
			if !errors.Is(err, bolt.ErrDamagedFile) {
				t.Errorf("refusal %v is not ErrDamagedFile", err)
			}
		})
	}
}

// TestMetaPages damages the meta pages: one bad meta page is what a commit
// cut off by a power failure leaves, and bbolt carries on from the other,
// which Open now says in the log (and it no longer writes at open, which
// overwrote the evidence); two bad ones are refused with what to do.
func TestMetaPages(t *testing.T) {
	path := seedFile(t, 100)
	l := bolttest.ReadLayout(t, path)
	var log bytes.Buffer
	bolttest.Flip(t, path, int64(l.Meta)*l.PageSize+16+8, 0x01) // the page size inside the meta in use
	before := bolttest.Sum(t, path)
	db, err := bolt.Open(path, bolt.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatalf("one damaged meta page: %v", err)
	}
	// The previous commit is what remains: every instance, without the
	// plugin keys of the last one.
	if ins, _, err := db.List(store.Query{Limit: 1000}); err != nil || len(ins) != 100 {
		t.Errorf("after falling back: %d instances, %v", len(ins), err)
	}
	if _, err := db.KVGet("large", "key-0299"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the last commit, whose meta page is damaged, is still seen: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("meta page %d is invalid (checksum mismatch)", l.Meta); !strings.Contains(log.String(), want) {
		t.Errorf("log %q does not say %q", log.String(), want)
	}
	if bolttest.Sum(t, path) != before {
		t.Error("opening and closing wrote to the file")
	}

	bolttest.Flip(t, path, int64(1-l.Meta)*l.PageSize+16+60, 0x80) // the other one's checksum
	refused(t, path, bolt.Options{}, "both meta pages are invalid", "backup")
}

// TestEmptyFile is an existing data file of zero bytes, which Open used to
// take for a new store, losing every instance without a word.
func TestEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := refused(t, path, bolt.Options{}, "data file "+path+" is empty", "backup")
	if !errors.Is(err, bolt.ErrEmptyFile) {
		t.Errorf("refusal %v is not ErrEmptyFile", err)
	}
	db, err := bolt.Open(path, bolt.Options{InitEmpty: true, NoSync: true})
	if err != nil {
		t.Fatalf("InitEmpty: %v", err)
	}
	if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{running("a")}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	reopened := open(t, path)
	if _, err := reopened.Instance("a"); err != nil {
		t.Errorf("initialised store: %v", err)
	}
}

// TestNewFileIsWhole creates a store where there was none: the file
// appears whole, sound, with nothing left beside it.
func TestNewFileIsWhole(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "orbit.db")
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "orbit.db" {
		t.Fatalf("data directory holds %v (%v), want only orbit.db", entries, err)
	}
	if _, err := bolt.CheckFile(path); err != nil {
		t.Errorf("new file: %v", err)
	}
}

// TestCheckFileSound checks sound files: Orbit's own, and one that bbolt
// wrote with its freelist synced (as other tools do).
func TestCheckFileSound(t *testing.T) {
	path := seedFile(t, 3000)
	rep, err := bolt.CheckFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pages < 10 || rep.PageSize < 1024 || len(rep.Warnings) > 0 {
		t.Errorf("report %+v", rep)
	}

	synced := filepath.Join(t.TempDir(), "synced.db")
	b, err := bbolt.Open(synced, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		err := b.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			for i := range 500 {
				if err := bk.Put(fmt.Appendf(nil, "k%05d", i), bytes.Repeat([]byte{byte(round)}, 100)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	if _, err := bolt.CheckFile(synced); err != nil {
		t.Errorf("file with a synced freelist: %v", err)
	}
}

// FuzzDamagedFile changes bytes of live pages: Open either refuses the
// file or opens it, and then every read and a write answer, with an error
// at worst. A crash fails the whole test binary. Plain go test runs the
// seeds (random damage, the same every run); go test -fuzz explores.
func FuzzDamagedFile(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 80 {
		f.Add(rng.Uint64(), rng.Uint64(), byte(1+rng.IntN(255)), rng.Uint64(), byte(1+rng.IntN(255)))
	}
	seed := seedFile(f, 150)
	l := bolttest.ReadLayout(f, seed)
	f.Fuzz(func(t *testing.T, page1, off1 uint64, mask1 byte, off2 uint64, mask2 byte) {
		p := filepath.Join(t.TempDir(), "orbit.db")
		copyFile(t, seed, p)
		size := int64(l.Pages) * l.PageSize
		start := int64(2+page1%(l.Pages-2)) * l.PageSize // a live page, then anywhere near it
		bolttest.Flip(t, p, start+int64(off1%uint64(l.PageSize)), mask1)
		bolttest.Flip(t, p, 2*l.PageSize+int64(off2%uint64(size-2*l.PageSize)), mask2)
		db, err := bolt.Open(p, bolt.Options{NoSync: true})
		if err != nil {
			if !errors.Is(err, bolt.ErrDamagedFile) {
				t.Fatalf("refusal %v is not ErrDamagedFile", err)
			}
			return
		}
		readEverything(db)
		db.Close()
	})
}

// readEverything reads all there is through the store's API, ignoring the
// errors a damaged record gives: only a crash would be wrong.
func readEverything(db *bolt.DB) {
	cursor := ""
	for {
		ins, next, err := db.List(store.Query{Limit: 100, Cursor: cursor})
		if err != nil {
			break
		}
		for _, in := range ins {
			db.Instance(in.ID)
			db.History(in.ID, 0, 0)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	db.Unfinished(func(id string, _ store.Status) error { db.Instance(id); return nil })
	db.Timers(func(store.Timer) error { return nil })
	db.Ended(time.Now().Add(time.Hour), func(string) error { return nil })
	db.Bundles()
	db.KVGet("small", "1")
	db.KVGet("large", "key-0001")
	db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{running("after-damage")}})
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
