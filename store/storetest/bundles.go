package storetest

import (
	"slices"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

func testBundles(t *testing.T, s store.Store) {
	// Hash order is the reverse of age: the listing must follow age.
	older := store.BundleSources{Hash: "ffff", AddedAt: at(0), Files: map[string][]byte{
		"orders.lua": []byte(`workflow "place_order" {}`), "sub/x.lua": {0, 1, 2, 255},
	}}
	newer := store.BundleSources{Hash: "0000", AddedAt: at(60), Files: map[string][]byte{"a.lua": []byte("-- a")}}
	commit(t, s, &store.Batch{Bundles: []store.BundleSources{newer}})
	commit(t, s, &store.Batch{Bundles: []store.BundleSources{older}})

	got, err := s.Bundle("ffff")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "bundle", got, older)
	all, err := s.Bundles()
	if err != nil {
		t.Fatal(err)
	}
	hashes := func(bs []store.BundleSources) []string {
		var out []string
		for _, b := range bs {
			out = append(out, b.Hash)
		}
		return out
	}
	if !slices.Equal(hashes(all), []string{"ffff", "0000"}) {
		t.Errorf("bundles = %v, want oldest first [ffff 0000]", hashes(all))
	}
	sameJSON(t, "listed bundle", all[1], newer)

	commit(t, s, &store.Batch{DeleteBundles: []string{"ffff"}})
	_, err = s.Bundle("ffff")
	isNotFound(t, "deleted bundle", err)
	all, err = s.Bundles()
	if err != nil || !slices.Equal(hashes(all), []string{"0000"}) {
		t.Errorf("bundles after delete = %v, %v", hashes(all), err)
	}
}

func testKV(t *testing.T, s store.Store) {
	put := func(ns, key, value string) {
		t.Helper()
		if err := s.KVPut(ns, key, []byte(value)); err != nil {
			t.Fatalf("put %s/%s: %v", ns, key, err)
		}
	}
	get := func(ns, key string) string {
		t.Helper()
		v, err := s.KVGet(ns, key)
		if err != nil {
			t.Fatalf("get %s/%s: %v", ns, key, err)
		}
		return string(v)
	}
	put("fraud", "threshold", "0.8")
	put("fraud", "model", "v1")
	put("email", "threshold", "other")
	if got := get("fraud", "threshold"); got != "0.8" {
		t.Errorf("fraud/threshold = %q", got)
	}
	put("fraud", "threshold", "0.9")
	if got := get("fraud", "threshold"); got != "0.9" {
		t.Errorf("overwritten fraud/threshold = %q", got)
	}
	if got := get("email", "threshold"); got != "other" {
		t.Errorf("namespaces mix: email/threshold = %q", got)
	}
	_, err := s.KVGet("fraud", "missing")
	isNotFound(t, "missing key", err)
	_, err = s.KVGet("missing", "threshold")
	isNotFound(t, "missing namespace", err)

	// The value read is the caller's to keep.
	v, _ := s.KVGet("fraud", "model")
	v[0] = 'X'
	if got := get("fraud", "model"); got != "v1" {
		t.Errorf("changing a read value changed the store: %q", got)
	}
	// So is the value written.
	buf := []byte("kept")
	if err := s.KVPut("fraud", "buf", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXX")
	if got := get("fraud", "buf"); got != "kept" {
		t.Errorf("reusing a written buffer changed the store: %q", got)
	}
	usage := func(ns string) int64 {
		t.Helper()
		n, err := s.KVUsage(ns)
		if err != nil {
			t.Fatalf("usage %s: %v", ns, err)
		}
		return n
	}
	// fraud holds threshold=0.9, model=v1, buf=kept.
	if got, want := usage("fraud"), int64(len("threshold0.9modelv1bufkept")); got != want {
		t.Errorf("usage of fraud = %d, want %d", got, want)
	}
	if got := usage("absent"); got != 0 {
		t.Errorf("usage of an absent namespace = %d", got)
	}
	put("fraud", "model", "version-2")
	if got, want := usage("fraud"), int64(len("threshold0.9modelversion-2bufkept")); got != want {
		t.Errorf("usage after an overwrite = %d, want %d", got, want)
	}
	if err := s.KVPut("fraud", "buf", nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.KVGet("fraud", "buf")
	isNotFound(t, "deleted key", err)
	if got, want := usage("fraud"), int64(len("threshold0.9modelversion-2")); got != want {
		t.Errorf("usage after a delete = %d, want %d", got, want)
	}
	if err := s.KVPut("fraud", "never-written", nil); err != nil {
		t.Errorf("deleting an absent key: %v", err)
	}
	if err := s.KVPut("", "k", []byte("v")); err == nil {
		t.Error("an empty namespace was accepted")
	}
	if err := s.KVPut("ns", "", []byte("v")); err == nil {
		t.Error("an empty key was accepted")
	}
}
