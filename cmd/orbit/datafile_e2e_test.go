package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/store/bolt/bolttest"
)

// stopped serves data, starts the given number of approval instances
// (each waits for an event), stops the sidecar with SIGTERM and returns
// their ids.
func stopped(t *testing.T, data string, n int) []string {
	t.Helper()
	s := serve(t, noFlaky, data)
	var ids []string
	for range n {
		id := s.start("approval", "", `{"big": "`+strings.Repeat("x", 2000)+`"}`).must(t, 201).str("id")
		s.waitsFor(id, "event")
		ids = append(ids, id)
	}
	s.stop()
	return ids
}

// refusesToServe runs orbit serve on data and checks that it exits 1 with
// a message holding want, without a Go crash and without writing to data.
func refusesToServe(t *testing.T, data string, want ...string) {
	t.Helper()
	before := bolttest.Sum(t, data)
	_, errOut, code := runOrbit(t, append([]string{"ORBIT_SCRIPT_ENV=FLAKY_URL"}, noFlaky...),
		"serve", "--listen", "127.0.0.1:0", "--scripts", "testdata/serve", "--data", data)
	if code != 1 || strings.Contains(errOut, "panic") || strings.Contains(errOut, "fatal error") {
		t.Fatalf("exit %d, want 1 with a refusal; stderr:\n%s", code, errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr %q does not say %q", errOut, w)
		}
	}
	if bolttest.Sum(t, data) != before {
		t.Error("the refused data file was written to")
	}
}

// TestServeRefusesDamagedDataFile cuts a data file short, and changes a
// live page of another: the sidecar used to die of a fault or a panic at
// every start; now it says what is wrong and exits 1.
func TestServeRefusesDamagedDataFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "orbit.db")
	stopped(t, data, 40)
	l := bolttest.ReadLayout(t, data)
	flipped := filepath.Join(t.TempDir(), "orbit.db")
	raw, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(flipped, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	if err := os.Truncate(data, int64(l.Pages)*l.PageSize/2); err != nil {
		t.Fatal(err)
	}
	refusesToServe(t, data, "data file "+data+" is damaged", "cut short", "Restore it from a backup")

	root := bolttest.BucketRoot(t, flipped, "instances")
	leaf := bolttest.FirstLeaf(t, flipped, l, root)
	bolttest.Flip(t, flipped, int64(leaf)*l.PageSize, 0x0F) // the page's own id
	refusesToServe(t, flipped, "data file "+flipped+" is damaged", "says it is page", "Restore it from a backup")
}

// TestServeEmptyDataFile is a data file cut to zero bytes, which the
// sidecar used to take for a new store ("resumed 0 instances").
func TestServeEmptyDataFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "orbit.db")
	if err := os.WriteFile(data, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	refusesToServe(t, data, "data file "+data+" is empty", "backup", "--init-empty")
	s := serve(t, noFlaky, data, "--init-empty")
	s.start("echo", "?wait=10s", `{"hi": 1}`).must(t, 200)
}

// TestServeDamagedRecord changes one stored record's bytes: the listing
// used to answer 400 and the record's reads 500 internal. Now the listing
// shows every instance, the damaged one as a stub, and its reads answer
// 500 damaged naming it; the others carry on.
func TestServeDamagedRecord(t *testing.T) {
	data := filepath.Join(t.TempDir(), "orbit.db")
	ids := stopped(t, data, 3)
	bad := ids[1]
	bolttest.DamageRecord(t, data, bad)
	s := serve(t, noFlaky, data)

	list := s.do("GET", "/v1/instances", "").must(t, 200)
	listed, _ := list.obj["instances"].([]any)
	if len(listed) != 3 {
		t.Fatalf("list holds %d instances, want 3: %s", len(listed), list.body)
	}
	for _, v := range listed {
		in := v.(map[string]any)
		damaged, _ := in["damaged"].(string)
		if (in["id"] == bad) != (damaged != "") || (damaged != "" && (in["status"] != "WAITING" || in["workflow"] != "approval")) {
			t.Errorf("listed %v", in)
		}
	}
	for _, a := range []answer{
		s.do("GET", "/v1/instances/"+bad, ""),
		s.start("approval", "?id="+bad, `{}`),
		s.do("POST", "/v1/instances/"+bad+"/cancel", ""),
	} {
		if a.status != 500 || a.code() != "damaged" || !strings.Contains(string(a.body), bad) {
			t.Errorf("answer %d %s, want 500 damaged naming %s", a.status, a.body, bad)
		}
	}
	s.do("POST", "/v1/instances/"+ids[0]+"/events/approved", `true`).must(t, 202)
	s.status(ids[0], "SUCCEEDED")
	s.status(ids[2], "WAITING")
}
