package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
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
	if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{running("a")}, Events: evs}); err != nil {
		t.Fatal(err)
	}
	db.Close()
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
