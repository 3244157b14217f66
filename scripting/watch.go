package scripting

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long a scripts directory must stay quiet before
// a change reloads it: editors write a file in several steps (truncate,
// write, rename over), and a checkout touches many files at once.
const DefaultDebounce = 250 * time.Millisecond

// Watcher calls a function when the scripts under a directory change:
// files created, written, removed or renamed, in subfolders too, including
// folders created later. A burst of changes makes one call.
type Watcher struct {
	w        *fsnotify.Watcher
	debounce time.Duration
	onChange func()
	done     chan struct{}
	wg       sync.WaitGroup
	close    sync.Once
}

// Watch starts watching dir; onChange runs in the watcher's goroutine, one
// call at a time.
func Watch(dir string, debounce time.Duration, onChange func()) (*Watcher, error) {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &Watcher{w: fw, debounce: debounce, onChange: onChange, done: make(chan struct{})}
	if err := w.addTree(dir); err != nil {
		fw.Close()
		return nil, err
	}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

// addTree watches dir and every folder below it.
func (w *Watcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dir {
				return nil // removed while walking
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != dir && hidden(d.Name()) {
			return filepath.SkipDir
		}
		return w.w.Add(path)
	})
}

func (w *Watcher) loop() {
	defer w.wg.Done()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-w.done:
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if !w.relevant(ev) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(w.debounce)
			} else {
				timer.Reset(w.debounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			w.onChange()
		case _, ok := <-w.w.Errors:
			if !ok {
				return
			}
			// An overflow loses events: reload to be safe.
			w.onChange()
		}
	}
}

// relevant reports whether an event can change the bundle; a new folder is
// watched from now on.
func (w *Watcher) relevant(ev fsnotify.Event) bool {
	name := filepath.Base(ev.Name)
	if hidden(name) || strings.HasSuffix(name, "~") {
		return false
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
			w.addTree(ev.Name)
			return true
		}
	}
	if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Write) {
		return false
	}
	// A removed or renamed folder takes its scripts with it; anything
	// else counts when it is a script.
	_, script := formatOf(name)
	return script || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
}

// Close stops watching; closing again does nothing.
func (w *Watcher) Close() error {
	var err error
	w.close.Do(func() {
		close(w.done)
		err = w.w.Close()
		w.wg.Wait()
	})
	return err
}
