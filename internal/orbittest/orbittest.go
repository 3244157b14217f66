// Package orbittest holds what the tests of several Orbit packages share,
// in the manner of nats-server's test package: waiting for an outcome with
// a deadline, never a sleep that guesses how long the outcome takes.
package orbittest

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// Timeout is how long a poll waits before it fails its test: long enough
// for a loaded CI machine, short enough that a hang is reported, not
// killed.
const Timeout = 10 * time.Second

// pollEvery is the pause between two looks.
const pollEvery = 2 * time.Millisecond

// For calls check until it returns nil, and fails t with check's last
// error when timeout passes first.
func For(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(pollEvery)
	}
}

// Until calls get until it succeeds with a value cond accepts, and returns
// that value. When timeout passes first it fails t, naming what it waited
// for and the last value or error get gave.
func Until[T any](t testing.TB, timeout time.Duration, what string, get func() (T, error), cond func(T) bool) T {
	t.Helper()
	var last T
	For(t, timeout, func() error {
		v, err := get()
		if err != nil {
			return fmt.Errorf("%s never happened; last: %v", what, err)
		}
		if last = v; !cond(v) {
			return fmt.Errorf("%s never happened; last: %+v", what, v)
		}
		return nil
	})
	return last
}

// WriteFile writes body to path, failing t if it cannot.
func WriteFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
