// Package soak runs the real orbit binary for a long time at a steady rate
// of mixed workflows, with a short retention so that purges run, samples
// the process every interval (RSS, goroutines, data file size, open files,
// p99 start-to-end latency) and judges whether memory and the data file
// levelled off: the mean of the last third of the samples against the
// middle third. `make soak` runs it; it is not part of `make test`.
package soak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/orbit-sidecar/orbit/store/bolt"
)

// Config says what to run and for how long.
type Config struct {
	Orbit     string        // the orbit binary
	Scripts   string        // the soak's bundle (testdata/scripts)
	Dir       string        // where the data file lives
	Duration  time.Duration // how long the load runs
	Every     time.Duration // how often the process is sampled
	Rate      float64       // workflows started per second
	Retention time.Duration // the sidecar's --retention
	Sweep     time.Duration // its --retention-sweep
	Log       io.Writer     // a line per sample, and the verdict
}

// Sample is what one interval measured.
type Sample struct {
	At         time.Duration // since the load began
	Done       int           // workflows that ended as expected in the interval
	Failed     int           // workflows that did not
	P99        time.Duration // of the start-to-end latency of those that ended
	RSS        int64         // bytes
	Goroutines int
	FileSize   int64 // bytes of the data file and its write-ahead log
	OpenFiles  int
}

// Result is a whole run.
type Result struct {
	Samples []Sample
	RSS     Level
	File    Level
	Failed  int // workflows that did not end as expected
	Skipped int // starts left out because too many were in flight
}

// run is one soak in progress.
type run struct {
	cfg      Config
	api      string // http://host:port
	client   *http.Client
	proc     *exec.Cmd
	data     string
	inFlight atomic.Int64
	skipped  atomic.Int64
	seq      atomic.Int64

	mu        sync.Mutex
	latencies []time.Duration // of the current interval
	done      int
	failed    int
	firstErrs []string
}

// maxInFlight bounds the workflows under way, so that a sidecar that falls
// behind shows as skipped starts rather than as an ever-growing client.
const maxInFlight = 2000

// Run soaks the sidecar as cfg says and returns what it measured; it
// fails only when the run itself could not be made.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	down, err := downstream()
	if err != nil {
		return nil, err
	}
	defer down.Close()
	r := &run{cfg: cfg, data: filepath.Join(cfg.Dir, "orbit.db"),
		client: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	if err := r.start("http://" + down.Addr().String()); err != nil {
		return nil, err
	}
	defer r.stop()

	res := &Result{}
	begin := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
	defer tick.Stop()
	sample := time.NewTicker(cfg.Every)
	defer sample.Stop()
	end := time.After(cfg.Duration)
	var wg sync.WaitGroup
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-end:
			running = false
			// The last interval is measured too, so that a run of ten
			// minutes sampled every minute has ten samples; unless the
			// sampler just measured it, when both fire at the end.
			at := time.Since(begin)
			if n := len(res.Samples); n > 0 && at-res.Samples[n-1].At < cfg.Every/2 {
				break
			}
			s, err := r.sample(at)
			if err != nil {
				return nil, err
			}
			res.Samples = append(res.Samples, s)
			fmt.Fprintln(cfg.Log, s.row())
		case <-tick.C:
			if r.inFlight.Load() >= maxInFlight {
				r.skipped.Add(1)
				continue
			}
			r.inFlight.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer r.inFlight.Add(-1)
				r.one(int(r.seq.Add(1)))
			}()
		case <-sample.C:
			s, err := r.sample(time.Since(begin))
			if err != nil {
				return nil, err
			}
			res.Samples = append(res.Samples, s)
			fmt.Fprintln(cfg.Log, s.row())
		}
	}
	wg.Wait()
	r.mu.Lock()
	res.Failed = r.failed
	for _, s := range res.Samples {
		res.Failed += s.Failed
	}
	for _, e := range r.firstErrs {
		fmt.Fprintf(cfg.Log, "soak: workflow failed: %s\n", e)
	}
	r.mu.Unlock()
	res.Skipped = int(r.skipped.Load())
	res.RSS = Levelled(res.Samples, func(s Sample) float64 { return float64(s.RSS) }, rssSlack)
	res.File = Levelled(res.Samples, func(s Sample) float64 { return float64(s.FileSize) }, fileSlack)
	return res, nil
}

// downstream is the service the soak's routines call: it answers 503 to
// every twentieth call, so that retries happen, and 200 to the rest.
func downstream() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		w.Header().Set("Content-Type", "application/json")
		if n.Add(1)%20 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"busy":true}`)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	})}
	go srv.Serve(ln)
	return ln, nil
}

// start runs `orbit serve` and waits for its listening line.
func (r *run) start(downURL string) error {
	r.proc = exec.Command(r.cfg.Orbit, "serve", "--listen", "127.0.0.1:0", "--scripts", r.cfg.Scripts,
		"--plugins", filepath.Join(r.cfg.Dir, "no-plugins"), "--data", r.data, "--script-env", "SOAK_URL",
		"--retention", r.cfg.Retention.String(), "--retention-sweep", r.cfg.Sweep.String(),
		// The soak looks for leaks, not for deadlines: on a machine shared
		// with other work, a Lua call of a few microseconds once waited
		// past the default 100ms for a core.
		"--lua-timeout", "2s")
	r.proc.Env = append(os.Environ(), "SOAK_URL="+downURL)
	stderr, err := r.proc.StderrPipe()
	if err != nil {
		return err
	}
	if err := r.proc.Start(); err != nil {
		return fmt.Errorf("start %s: %w", r.cfg.Orbit, err)
	}
	lines := bufio.NewScanner(stderr)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		if _, rest, ok := strings.Cut(lines.Text(), "orbit: listening on "); ok {
			addr, _, _ := strings.Cut(rest, " ")
			r.api = "http://" + addr
			go func() { // the log is read so that the sidecar never blocks on it
				for lines.Scan() {
				}
			}()
			return nil
		}
		fmt.Fprintln(r.cfg.Log, lines.Text())
	}
	r.proc.Wait()
	return errors.New("orbit serve exited before it listened")
}

// stop ends the sidecar as an operator would.
func (r *run) stop() {
	r.proc.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.proc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		r.proc.Process.Kill()
		<-done
	}
}

// mix is the order in which the workflows are started: the short ones
// most often.
var mix = []string{"order", "quick", "approval", "quick", "fanout", "order", "quick", "approval"}

// one runs workflow number i to its end and records how it went.
func (r *run) one(i int) {
	wf := mix[i%len(mix)]
	id := fmt.Sprintf("soak-%d", i)
	input := fmt.Sprintf(`{"n":%d,"items":[1,2,3],"note":"%s"}`, i, strings.Repeat("x", 200))
	if wf == "approval" {
		// The event is sent while the start waits for the end: it finds
		// the instance awaiting it, or is kept until it does.
		go func() {
			for range 100 {
				status, _, _ := r.call("POST", "/v1/instances/"+id+"/events/approved", `{"ok":true}`)
				if status != http.StatusNotFound {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	begin := time.Now()
	status, body, err := r.call("POST", "/v1/workflows/"+wf+"/instances?wait=60s&id="+id, input)
	took := time.Since(begin)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && status == http.StatusOK && bytes.Contains(body, []byte(`"status":"SUCCEEDED"`)) {
		r.done++
		r.latencies = append(r.latencies, took)
		return
	}
	r.failed++
	if len(r.firstErrs) < 5 {
		r.firstErrs = append(r.firstErrs, fmt.Sprintf("%s %s: %d %s %v", wf, id, status, bytes.TrimSpace(body), err))
	}
}

func (r *run) call(method, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, r.api+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// sample measures the sidecar now and takes the interval's outcomes.
func (r *run) sample(at time.Duration) (Sample, error) {
	s := Sample{At: at}
	pid := r.proc.Process.Pid
	var err error
	if s.RSS, err = rss(pid); err != nil {
		return s, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, fmt.Errorf("open files of the sidecar: %w", err)
	}
	s.OpenFiles = len(fds)
	// The store on disk is the data file and its log: a log that the
	// applier never trims would grow as a leak does.
	segs, err := bolt.LogSegments(r.data)
	if err != nil {
		return s, err
	}
	for _, p := range append(segs, r.data) {
		fi, err := os.Stat(p)
		if err != nil && !(errors.Is(err, fs.ErrNotExist) && p != r.data) { // a segment may be deleted meanwhile
			return s, err
		}
		if err == nil {
			s.FileSize += fi.Size()
		}
	}
	if s.Goroutines, err = r.goroutines(); err != nil {
		return s, err
	}
	r.mu.Lock()
	s.Done, s.Failed = r.done, r.failed
	s.P99 = percentile(r.latencies, 0.99)
	r.done, r.failed, r.latencies = 0, 0, r.latencies[:0]
	r.mu.Unlock()
	return s, nil
}

// rss reads the resident set size of a process from /proc.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("memory of the sidecar: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// goroutines reads go_goroutines from the sidecar's metrics.
func (r *run) goroutines() (int, error) {
	status, body, err := r.call("GET", "/metrics", "")
	if err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("metrics: %d %v", status, err)
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return int(f), err
		}
	}
	return 0, errors.New("no go_goroutines in the metrics")
}

// percentile is the p-th quantile of ds, nearest rank (0 for none).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

const mib = 1 << 20

func (s Sample) row() string {
	return fmt.Sprintf("%7s  done %6d  failed %3d  p99 %7.1f ms  rss %7.1f MiB  goroutines %5d  file %7.1f MiB  open files %4d",
		s.At.Round(time.Second), s.Done, s.Failed, float64(s.P99.Microseconds())/1000, float64(s.RSS)/mib, s.Goroutines,
		float64(s.FileSize)/mib, s.OpenFiles)
}
