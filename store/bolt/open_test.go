package bolt_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

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
