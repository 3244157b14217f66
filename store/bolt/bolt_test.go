package bolt_test

import (
	"testing"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

// TestConformance runs the shared suite against a real file, fsync on.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, path string) store.Store {
		db, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
