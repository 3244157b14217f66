package crashtest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// call is one request the downstream received.
type call struct {
	Key      string // Idempotency-Key
	Instance string // Orbit-Instance
	State    string // Orbit-State
	Attempt  string // Orbit-Attempt
	N        int    // the body's n: which visit of the state the call is for
	Path     string
	Answered bool // answered with a result, not 503
}

// visit is what a call is for, whatever key it carries: one entry of one
// state of one instance.
type visit struct {
	Instance, State string
	N               int
}

// downstream stands for the services the workflows call. It records every
// call with its Idempotency-Key, answers 503 to the first calls of some
// keys, checks the concurrency workflow's exclusion, and can kill the
// sidecar in the middle of a call.
type downstream struct {
	url string
	srv *http.Server

	mu       sync.Mutex
	calls    []call
	perKey   map[string]int
	holder   map[string]string // concurrency key -> instance between Enter and Leave
	overlaps []string
	rng      *rand.Rand
	// killAt, when positive, counts calls down to a kill; killAfter says
	// whether the kill comes after the answer is written or before.
	killAt    int
	killAfter bool
	kill      func() // set with killAt; kills the sidecar
}

func newDownstream(seed uint64) (*downstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &downstream{url: "http://" + ln.Addr().String(), perKey: map[string]int{}, holder: map[string]string{},
		rng: rand.New(rand.NewPCG(seed, 0x646f776e))}
	d.srv = &http.Server{Handler: http.HandlerFunc(d.serve), ReadHeaderTimeout: 10 * time.Second}
	go d.srv.Serve(ln)
	return d, nil
}

func (d *downstream) close() { d.srv.Close() }

// failures is how many first calls of a key answer 503: 0, 1 or 2, fewer
// than the tasks' three retries.
func failures(key string) int {
	h := fnv.New32a()
	io.WriteString(h, key)
	return int(h.Sum32() % 3)
}

// armKill makes the nth call from now kill the sidecar, before its answer
// or just after it.
func (d *downstream) armKill(nth int, after bool, kill func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.killAt, d.killAfter, d.kill = nth, after, kill
}

// disarm forgets an armed kill that has not happened.
func (d *downstream) disarm() { d.armKill(0, false, nil) }

func (d *downstream) serve(w http.ResponseWriter, r *http.Request) {
	var body struct {
		N   int    `json:"n"`
		Key string `json:"key"`
	}
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, `{"error":"Test.BadBody"}`, http.StatusBadRequest)
		return
	}
	c := call{Key: r.Header.Get("Idempotency-Key"), Instance: r.Header.Get("Orbit-Instance"),
		State: r.Header.Get("Orbit-State"), Attempt: r.Header.Get("Orbit-Attempt"), N: body.N, Path: r.URL.Path}

	d.mu.Lock()
	d.perKey[c.Key]++
	unavailable := d.perKey[c.Key] <= failures(c.Key)
	c.Answered = !unavailable
	d.calls = append(d.calls, c)
	if !unavailable {
		d.exclusion(c, body.Key)
	}
	var kill func()
	killAfter := false
	if d.killAt > 0 {
		if d.killAt--; d.killAt == 0 {
			kill, killAfter, d.kill = d.kill, d.killAfter, nil
		}
	}
	delay := time.Duration(d.rng.IntN(15)) * time.Millisecond
	d.mu.Unlock()

	time.Sleep(delay) // a service takes some time, which widens the windows a crash can fall in
	if kill != nil && !killAfter {
		kill()
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case unavailable:
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"busy":true}`)
	case c.Path == "/refuse":
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"error":"Order.Refused","cause":"the downstream says no"}`)
	default:
		fmt.Fprintf(w, `{"n":%d}`, body.N+1)
	}
	if kill != nil && killAfter {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		kill()
	}
}

// exclusion checks the serial workflow: between a successful Enter and
// Leave of one concurrency key, no other instance may enter it. A re-run
// of the holder's own Enter or Leave after a crash is allowed.
func (d *downstream) exclusion(c call, key string) {
	switch c.Path {
	case "/enter":
		if h := d.holder[key]; h != "" && h != c.Instance {
			d.overlaps = append(d.overlaps, fmt.Sprintf("key %s: %s entered while %s held it", key, c.Instance, h))
		}
		d.holder[key] = c.Instance
	case "/leave":
		if d.holder[key] == c.Instance {
			delete(d.holder, key)
		}
	}
}

// record returns a copy of what the downstream saw.
func (d *downstream) record() (calls []call, overlaps []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]call(nil), d.calls...), append([]string(nil), d.overlaps...)
}
