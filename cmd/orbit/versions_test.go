package main

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

func TestKeptVersionsReadsEveryKeptBundleOnce(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "orbit.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := func(version string) map[string][]byte {
		return map[string][]byte{"w.lua": []byte(`workflow "w" { version = "` + version + `", start = "A", states = { A = succeed {} } }`)}
	}
	if err := st.Commit(context.Background(), &store.Batch{Bundles: []store.BundleSources{
		{Hash: "h1", Files: src("v1"), AddedAt: time.Unix(1, 0)},
		{Hash: "h2", Files: src("v2"), AddedAt: time.Unix(2, 0)},
		{Hash: "h3", Files: src("v1"), AddedAt: time.Unix(3, 0)},
	}}); err != nil {
		t.Fatal(err)
	}
	compiled := 0
	k := newKeptVersions(st, func(files []flow.Source) (*flow.Bundle, error) {
		compiled++
		return scripting.LoadSources(files, scripting.Options{})
	}, discardLog())
	for range 2 {
		if got := k.versions("w"); !slices.Equal(got, []string{"v1", "v2"}) {
			t.Fatalf("versions %v, want [v1 v2]", got)
		}
	}
	if compiled != 3 {
		t.Errorf("compiled %d bundles, want each of 3 once", compiled)
	}
	if got := k.versions("other"); len(got) != 0 {
		t.Errorf("versions of an unknown workflow %v", got)
	}
}
