// Package bolttest damages real data files the way disks and operators do,
// for the tests of the store and of everything that opens one: it cuts
// files short, changes bytes inside live pages and breaks single records.
// It knows bbolt's page format only as far as finding a page needs.
package bolttest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/orbit-sidecar/orbit/store/bolt"
	bbolt "go.etcd.io/bbolt"
)

// Layout is where a sound data file keeps its pages.
type Layout struct {
	PageSize int64
	Pages    uint64 // in use, from the meta page bbolt uses
	Meta     int    // that meta page, 0 or 1
}

// ReadLayout reads the layout of the sound data file at path.
func ReadLayout(t testing.TB, path string) Layout {
	t.Helper()
	rep, err := bolt.CheckFile(path)
	if err != nil {
		t.Fatalf("layout of %s: %v", path, err)
	}
	return Layout{PageSize: int64(rep.PageSize), Pages: rep.Pages, Meta: rep.Meta}
}

// BucketRoot is the root page of a top-level bucket of the sound data file
// at path (0 for an inline bucket).
func BucketRoot(t testing.TB, path, name string) uint64 {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var root uint64
	db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket([]byte(name)); b != nil {
			root = uint64(b.Root())
		}
		return nil
	})
	if root == 0 {
		t.Fatalf("bucket %s of %s has no page of its own", name, path)
	}
	return root
}

// Page flags and element layout of bbolt's format.
const (
	headerSize  = 16
	elementSize = 16
	branchFlag  = 0x01
)

// Page reads page id of the file at path, header included.
func Page(t testing.TB, path string, l Layout, id uint64) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := make([]byte, l.PageSize)
	if _, err := f.ReadAt(p, int64(id)*l.PageSize); err != nil {
		t.Fatalf("read page %d: %v", id, err)
	}
	return p
}

// IsBranch reports whether page p is a branch page.
func IsBranch(p []byte) bool { return binary.NativeEndian.Uint16(p[8:]) == branchFlag }

// Count is the number of elements of page p.
func Count(p []byte) int { return int(binary.NativeEndian.Uint16(p[10:])) }

// Child is the page that element i of branch page p points to.
func Child(p []byte, i int) uint64 {
	return binary.NativeEndian.Uint64(p[headerSize+i*elementSize+8:])
}

// FirstLeaf descends from page id along first children to a leaf page.
func FirstLeaf(t testing.TB, path string, l Layout, id uint64) uint64 {
	t.Helper()
	for {
		p := Page(t, path, l, id)
		if !IsBranch(p) {
			return id
		}
		id = Child(p, 0)
	}
}

// Change rewrites bytes of the file at path in place, from offset off, as
// fn leaves them.
func Change(t testing.TB, path string, off int64, n int, fn func(b []byte)) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatalf("read %d bytes at %d: %v", n, off, err)
	}
	fn(b)
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// Flip inverts the bits of mask in the byte at off.
func Flip(t testing.TB, path string, off int64, mask byte) {
	t.Helper()
	Change(t, path, off, 1, func(b []byte) { b[0] ^= mask })
}

// DamageRecord makes the stored record of instance id undecodable in the
// closed data file at path, by changing the first byte of its JSON in
// place, as a bad sector would; its page and every index stay sound.
func DamageRecord(t testing.TB, path, id string) {
	t.Helper()
	DamageValue(t, path, `{"id":"`+id+`"`)
}

// DamageBundle does the same to the kept sources of bundle hash.
func DamageBundle(t testing.TB, path, hash string) {
	t.Helper()
	DamageValue(t, path, `{"hash":"`+hash+`"`)
}

// DamageValue changes the first byte of every stored value that begins
// with prefix, in place.
func DamageValue(t testing.TB, path, prefix string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte(prefix)
	n := 0
	for i := 0; ; {
		j := bytes.Index(raw[i:], marker)
		if j < 0 {
			break
		}
		Change(t, path, int64(i+j), 1, func(b []byte) { b[0] = 0xFF })
		i += j + len(marker)
		n++
	}
	if n == 0 {
		t.Fatalf("no value beginning %s in %s", prefix, path)
	}
}

// Sum is a digest of the file's bytes, to show that nothing wrote to it.
func Sum(t testing.TB, path string) [sha256.Size]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// Open opens a new store without syncs in the test's temporary directory,
// closed when the test ends.
func Open(t testing.TB) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "orbit.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
