package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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

// A file whose top-level bucket entry became a plain value (damage the file
// check cannot see: the page is well formed) is refused as damaged, not
// with bbolt's "incompatible value" while creating the bucket again.
func TestOpenRefusesAValueWhereABucketBelongs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	open(t, path).Close()
	b, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket([]byte("unfinished")); err != nil {
			return err
		}
		return tx.Bucket([]byte("kv")).Put([]byte("x"), []byte("y")) // keeps the file's shape ordinary
	})
	if err == nil {
		err = b.Update(func(tx *bbolt.Tx) error { return tx.Cursor().Bucket().Put([]byte("unfinished"), []byte("v")) })
	}
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = bolt.Open(path, bolt.Options{NoSync: true})
	if !errors.Is(err, bolt.ErrDamagedFile) || !strings.Contains(err.Error(), `"unfinished" holds a value`) {
		t.Fatalf("open: %v, want ErrDamagedFile naming the entry", err)
	}
}

// An event that decodes but holds another sequence number than its key
// (the value of one key copied over another's) is a damaged record, not a
// history whose numbers skip or repeat. Found by FuzzDecodeEvent.
func TestHistoryRefusesAnEventUnderAnotherSeq(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	db := open(t, path)
	evs := []store.Event{{Instance: "a", Seq: 1, Type: "ExecutionStarted", Time: time.Now()},
		{Instance: "a", Seq: 2, Type: "StateEntered", Time: time.Now(), State: "A"}}
	// Two stores' lives: each event in a chunk of its own.
	for i := range evs {
		if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{running("a")}, Events: evs[i : i+1]}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if i == 0 {
			db = open(t, path)
		}
	}
	b, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bbolt.Tx) error {
		h := tx.Bucket([]byte("history"))
		k1, v1 := h.Cursor().First()
		k2, _ := h.Cursor().Last()
		if string(k1[:2]) != "a\x00" || string(k2[:2]) != "a\x00" || bytes.Equal(k1, k2) {
			return fmt.Errorf("history keys %q and %q are not the two events of a", k1, k2)
		}
		return h.Put(bytes.Clone(k2), bytes.Clone(v1))
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	got, err := db.History("a", 0, 0)
	var de *store.DamagedError
	if !errors.As(err, &de) || de.Instance != "a" || de.Record != "event 2" || !strings.Contains(err.Error(), "holds event 1") {
		t.Fatalf("history: %+v, %v; want a damaged record naming event 2", got, err)
	}
}

// A store written without a freelist page (NoFreelistSync, as Orbit wrote
// every store before it kept one) opens with everything it held, and the
// open gives it its freelist, so that later opens read the freelist
// instead of walking every page.
func TestOpenGivesAStoreWithoutAFreelistOne(t *testing.T) {
	path := seedFile(t, 600)
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("kv")).Put([]byte("x"), []byte("y")) })
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := freelistPage(t, path); got != noFreelist {
		t.Fatalf("the rewritten file has its freelist at page %d; the test needs a file without one", got)
	}
	for range 2 {
		db, err := bolt.Open(path, bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = db.Unfinished(func(string, store.Status) error { n++; return nil })
		db.Close()
		if err != nil || n != 600 {
			t.Fatalf("unfinished: %d instances, %v; want 600", n, err)
		}
		if got := freelistPage(t, path); got == noFreelist {
			t.Fatal("after an open and close the file still has no freelist page")
		}
	}
}

// noFreelist is bbolt's freelist page id of a file written without one.
const noFreelist = ^uint64(0)

// freelistPage reads the freelist page id from the meta page bbolt uses.
func freelistPage(t *testing.T, path string) uint64 {
	t.Helper()
	l := bolttest.ReadLayout(t, path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const pageHeader, freelistAt = 16, 32 // bbolt's page header; the freelist id's offset in the meta
	off := int64(l.Meta)*l.PageSize + pageHeader + freelistAt
	return binary.NativeEndian.Uint64(b[off:])
}
