package main_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/bolt/bolttest"
)

// orbitExits runs the binary and checks its exit code and that stdout or
// stderr says each of want.
func orbitExits(t *testing.T, code int, want []string, args ...string) string {
	t.Helper()
	out, errOut, got := runOrbit(t, nil, args...)
	if got != code {
		t.Fatalf("orbit %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(out+errOut, w) {
			t.Errorf("orbit %s does not say %q:\nstdout: %s\nstderr: %s", strings.Join(args, " "), w, out, errOut)
		}
	}
	return out + errOut
}

// TestHistoryChainHeadAndVerify serves instances, reads a history's chain
// head as a client keeps it, and verifies the stopped store; then damages
// copies of it the three ways verify must catch: an edited history event,
// a flipped byte in a record and a cut-off file.
func TestHistoryChainHeadAndVerify(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "orbit.db")
	s := serve(t, noFlaky, data)
	var ids []string
	for _, who := range []string{"ada", "grace", "edsger"} {
		id := s.start("approval", "?id="+who, `{"who":"`+who+`"}`).must(t, 201).str("id")
		s.waitsFor(id, "event")
		ids = append(ids, id)
	}
	s.do("POST", "/v1/instances/ada/events/approved", `{"by": "ops"}`).must(t, 202)
	s.status("ada", "SUCCEEDED")
	h := s.do("GET", "/v1/instances/ada/history", "").must(t, 200)
	events, _ := h.obj["events"].([]any)
	head, _ := h.obj["chain_head"].(map[string]any)
	last, _ := events[len(events)-1].(map[string]any)
	if head == nil || head["seq"] != last["seq"] || head["hash"] != last["hash"] || len(head["hash"].(string)) != 64 {
		t.Fatalf("chain_head %v, last event %v", head, last)
	}
	orbitExits(t, 1, []string{"in use"}, "verify", "--data", data)
	s.stop()

	orbitExits(t, 0, []string{"ok: " + data, "3 instances", "(14 hashed, in 3 chains)"}, "verify", "--data", data)

	damaged := func(name string) string {
		t.Helper()
		raw, err := os.ReadFile(data)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// bbolt leaves old copies of a page in free pages, so a change meant
	// for the live record is made wherever its bytes are.
	changeAll := func(path, text string, fn func([]byte)) {
		t.Helper()
		raw, _ := os.ReadFile(path)
		n := 0
		for i := 0; ; n++ {
			j := bytes.Index(raw[i:], []byte(text))
			if j < 0 {
				break
			}
			bolttest.Change(t, path, int64(i+j), len(text), fn)
			i += j + len(text)
		}
		if n == 0 {
			t.Fatalf("%q is not in %s", text, path)
		}
	}

	// The event as the history keeps it (the instance's output holds the
	// same payload), changed to valid JSON of the same length.
	edited := damaged("edited.db")
	changeAll(edited, `"output":{"by":"ops"},"event":"approved"`, func(b []byte) { copy(b, `"output":{"by":"eve"}`) })
	orbitExits(t, 1, []string{`instance "ada": history event`, "(EventReceived) does not match its hash"}, "verify", "--data", edited)

	flipped := damaged("flipped.db")
	changeAll(flipped, `{"id":"grace"`, func(b []byte) { b[2] ^= 0x01 })
	orbitExits(t, 1, []string{`instance "grace"`, "damaged"}, "verify", "--data", flipped)

	cut := damaged("cut.db")
	// Cut inside the pages in use: bbolt grows a file ahead of its data.
	rep, err := bolt.CheckFile(cut)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(cut, int64(rep.Pages/2)*int64(rep.PageSize)); err != nil {
		t.Fatal(err)
	}
	orbitExits(t, 1, []string{"cut short"}, "verify", "--data", cut)
}

// TestBackupCompactRestore backs up a serving sidecar over HTTP behind its
// token, refuses an offline backup of the file it serves, compacts the
// stopped store after retention purged most of it, and restores: a
// damaged backup is refused, an existing store is replaced only with
// --force, never while served, and the restored store serves.
func TestBackupCompactRestore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "orbit.db")
	const token = "s3cret"
	s := serve(t, noFlaky, data, "--token", token, "--retention", "1ms", "--retention-sweep", "100ms")
	s.token = token
	big := `{"blob":"` + strings.Repeat("x", 200_000) + `"}`
	for range 60 {
		s.start("echo", "?wait=10s", big).must(t, 200)
	}
	s.start("approval", "?id=kept", `{}`).must(t, 201)
	s.waitsFor("kept", "event")
	s.until("kept", "alone after the purges", func(answer) bool {
		l := s.do("GET", "/v1/instances", "").must(t, 200)
		n, _ := l.obj["instances"].([]any)
		return len(n) == 1
	})

	online := filepath.Join(dir, "online.db")
	orbitExits(t, 1, []string{"unauthorized"}, "backup", "--addr", s.addr, online)
	orbitExits(t, 0, []string{"ok: backup verified: " + online, "1 instances"}, "backup", "--addr", s.addr, "--token", token, online)
	orbitExits(t, 1, []string{"file exists"}, "backup", "--addr", s.addr, "--token", token, online)
	orbitExits(t, 1, []string{"in use"}, "backup", "--data", data, filepath.Join(dir, "offline.db"))
	orbitExits(t, 1, []string{"in use"}, "compact", "--data", data)
	orbitExits(t, 1, []string{"in use", "stop the Orbit serving it first"}, "restore", online, "--data", data, "--force")
	s.stop()

	before, _ := os.Stat(data)
	orbitExits(t, 0, []string{"ok: " + data + " compacted"}, "compact", "--data", data)
	after, _ := os.Stat(data)
	if after.Size() >= before.Size()/2 {
		t.Errorf("compaction left %d of %d bytes, though retention purged 12 MB of inputs and their copies", after.Size(), before.Size())
	}
	orbitExits(t, 0, []string{"1 instances"}, "verify", "--data", data)
	orbitExits(t, 0, []string{"ok: backup verified"}, "backup", "--data", data, filepath.Join(dir, "offline.db"))

	bad := filepath.Join(dir, "bad.db")
	raw, _ := os.ReadFile(online)
	os.WriteFile(bad, raw[:len(raw)/2], 0o600)
	sum := bolttest.Sum(t, data)
	orbitExits(t, 1, []string{"fails verify, so it was not restored", "cut short"}, "restore", bad, "--data", data, "--force")
	orbitExits(t, 1, []string{"file exists", "--force"}, "restore", online, "--data", data)
	if bolttest.Sum(t, data) != sum {
		t.Fatal("a refused restore changed the data file")
	}
	orbitExits(t, 0, []string{"ok: restored " + online}, "restore", online, "--data", data, "--force")
	fresh := filepath.Join(dir, "fresh", "orbit.db")
	orbitExits(t, 0, []string{"ok: restored"}, "restore", online, "--data", fresh)

	s = serve(t, noFlaky, data, "--token", token)
	s.token = token
	s.do("POST", "/v1/instances/kept/events/approved", `true`).must(t, 202)
	s.status("kept", "SUCCEEDED")
}
