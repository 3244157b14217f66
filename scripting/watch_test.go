package scripting

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// changes counts watcher calls on a channel.
func watchDir(t *testing.T, dir string) chan struct{} {
	t.Helper()
	calls := make(chan struct{}, 16)
	w, err := Watch(dir, 20*time.Millisecond, func() { calls <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return calls
}

func expectCall(t *testing.T, calls chan struct{}, what string) {
	t.Helper()
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatalf("no reload after %s", what)
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatchSeesEditsRenamesAndNewFolders(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.lua"), "-- a")
	calls := watchDir(t, dir)

	write(t, filepath.Join(dir, "a.lua"), "-- a2")
	expectCall(t, calls, "a write")

	// An editor's save: write a temporary file, rename it over the script.
	tmp := filepath.Join(dir, ".a.lua.swp")
	write(t, tmp, "-- a3")
	if err := os.Rename(tmp, filepath.Join(dir, "a.lua")); err != nil {
		t.Fatal(err)
	}
	expectCall(t, calls, "a rename over the file")

	sub := filepath.Join(dir, "modules")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	expectCall(t, calls, "a new folder")
	write(t, filepath.Join(sub, "b.lua"), "-- b")
	expectCall(t, calls, "a script in the new folder")

	if err := os.Remove(filepath.Join(sub, "b.lua")); err != nil {
		t.Fatal(err)
	}
	expectCall(t, calls, "a removal")
}

func TestWatchDebouncesBurstsAndIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	calls := make(chan struct{}, 16)
	w, err := Watch(dir, 300*time.Millisecond, func() { calls <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write(t, filepath.Join(dir, "notes.txt"), "not a script")
	write(t, filepath.Join(dir, ".hidden.lua"), "-- editor state")
	for i := range 5 {
		write(t, filepath.Join(dir, "x.lua"), "-- "+string(rune('a'+i)))
	}
	expectCall(t, calls, "a burst")
	// Close stops the watcher; had the burst made more than one call, the
	// extra ones would be in the buffer by now or never.
	w.Close()
	if n := len(calls); n != 0 {
		t.Fatalf("%d extra reloads for one burst", n)
	}
}
