package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/internal/cputime"
	"github.com/orbit-sidecar/orbit/internal/devnats"
	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/metrics"
	"github.com/orbit-sidecar/orbit/scripting"
	"github.com/orbit-sidecar/orbit/store"
)

func init() {
	register("bench", "measure Orbit against calling the services directly", cmdBench)
}

// benchConfig is one benchmark run (SPEC 6).
type benchConfig struct {
	steps, concurrency int
	duration, warmup   time.Duration
	mode               string
	pipeline           bool    // the steps' routines pipeline their calls
	rate               float64 // workflows per second to offer; 0: as fast as they complete
	waiting            int     // instances to park for the waiting-work measurement
	cpuProfile         string  // profile of the orbit side, for pprof
	// The store of the orbit side: bbolt, or NATS with sidecars sharing
	// a cluster of nodes run in-process (or the servers at natsURL).
	store      storeKind
	sidecars   int
	nodes      int
	syncAlways bool
	natsURL    string
	metrics    bool // feed the metrics, as orbit serve does
}

// durability says when the orbit side's store acknowledges a checkpoint.
func (c benchConfig) durability() string {
	switch {
	case c.store != storeNATS:
		return "log fsync per group commit"
	case c.natsURL != "":
		return "as the servers are set"
	case c.syncAlways:
		return fmt.Sprintf("R%d, fsync per write", min(c.nodes, 3))
	default:
		return fmt.Sprintf("R%d, fsync every 2 min", min(c.nodes, 3))
	}
}

// sideResult is what one side of the benchmark measured.
type sideResult struct {
	Completed  int     `json:"completed"`
	Errors     int     `json:"errors"`
	WPS        float64 `json:"wps"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
	CPUPer1000 float64 `json:"cpu_s_per_1000"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	// What the disk was asked per workflow: fsyncs counted by the store,
	// and bytes the process wrote to storage as the kernel counts them
	// (write_bytes of /proc/self/io), in the measured time.
	SyncsPerWF    float64 `json:"fsyncs_per_wf"`
	BytesPerWF    float64 `json:"bytes_written_per_wf"`
	LogBytesPerWF float64 `json:"log_bytes_per_wf,omitempty"`
	CommitsPerSec float64 `json:"commits_per_s,omitempty"`
	PerCommit     float64 `json:"instances_per_commit,omitempty"`
	// What the schedulers did per workflow: goroutines the process
	// started, times a goroutine was set running (each hand-off between
	// goroutines is one), and the kernel's switches of the process's
	// threads (a thread that sleeps for want of work and is woken again).
	GoroutinesPerWF     float64 `json:"goroutines_per_wf"`
	GoroutineRunsPerWF  float64 `json:"goroutine_runs_per_wf"`
	ThreadSwitchesPerWF float64 `json:"thread_switches_per_wf"`
	// CPUWaitPerWF is how long, per workflow, the process's threads were
	// ready to run but waited for a CPU (Linux): the share of the latency
	// that other work on the machine took.
	CPUWaitPerWF float64 `json:"cpu_wait_ms_per_wf"`
	// With --rate: the latency from when a starter sent the start, which
	// leaves out the wait for a free starter (a backlog), and the share of
	// starts that began more than 1 ms after they were due.
	ServiceP50 float64 `json:"service_p50_ms,omitempty"`
	ServiceP99 float64 `json:"service_p99_ms,omitempty"`
	LateStarts float64 `json:"late_starts_pct,omitempty"`
}

func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench", "[--steps 3] [--concurrency 64] [--duration 10s] [--warmup 2s] [--mode durable|express|forward] [--pipeline] [--rate N] [--waiting N] [--cpuprofile FILE] [--store bbolt|nats] [--metrics] [--json]", stderr)
	var c benchConfig
	fs.IntVar(&c.steps, "steps", 3, "task states per workflow (HTTP calls to the downstream)")
	fs.IntVar(&c.concurrency, "concurrency", 64, "concurrent starters")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time of each side")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured time before each side")
	fs.StringVar(&c.mode, "mode", "durable", "durable, express, or forward (a bare forwarder in Orbit's place: the same exchanges, no engine)")
	fs.BoolVar(&c.pipeline, "pipeline", false, "the orbit side's http routines pipeline their calls (pipeline = true)")
	fs.Float64Var(&c.rate, "rate", 0, "offer this many workflows per second in all (0: each starter starts the next as soon as one ends)")
	fs.IntVar(&c.waiting, "waiting", 0, "also park this many awaiting instances; report their memory and the restart time")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the orbit (or forward) side to this file")
	kind := fs.String("store", string(storeBbolt), "store of the orbit side: bbolt, or nats (sidecars sharing a NATS cluster run in this process)")
	fs.IntVar(&c.sidecars, "sidecars", 1, "with --store nats: sidecars sharing the store; starts go to them in turn")
	fs.IntVar(&c.nodes, "nodes", 1, "with --store nats: NATS servers (3 or more: three replicas)")
	fs.BoolVar(&c.syncAlways, "sync-always", false, "with --store nats: the servers fsync every write instead of every two minutes")
	fs.StringVar(&c.natsURL, "nats-url", "", "with --store nats: use these servers instead of starting some")
	fs.BoolVar(&c.metrics, "metrics", false, "feed the Prometheus metrics as orbit serve does (traces follow the OTEL_* environment, as for serve)")
	asJSON := fs.Bool("json", false, "end with one JSON line of the results")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	c.store = storeKind(*kind)
	if c.steps < 1 || c.concurrency < 1 || c.duration <= 0 || c.rate < 0 || c.waiting < 0 || (c.mode != "durable" && c.mode != "express" && c.mode != "forward") ||
		(c.store != storeBbolt && c.store != storeNATS) || c.sidecars < 1 || c.nodes < 1 {
		fs.Usage()
		return 2
	}
	if c.mode == "forward" && (c.pipeline || c.store != storeBbolt) {
		fmt.Fprintln(stderr, "orbit bench: --mode forward runs no engine: --pipeline and --store do not apply to it")
		return 2
	}
	down, err := startDownstream()
	if err != nil {
		fmt.Fprintf(stderr, "orbit bench: %v\n", err)
		return 1
	}
	defer down.close()
	url := down.url()

	fmt.Fprintf(stderr, "bench: direct, %d steps, concurrency %d, %s (+%s warm-up)\n", c.steps, c.concurrency, c.duration, c.warmup)
	direct := measureDirect(c, url)

	side, bench := "orbit", benchOrbit
	if c.mode == "forward" {
		side, bench = "forward", benchForward
	}
	fmt.Fprintf(stderr, "bench: %s, mode %s, same load\n", side, c.mode)
	orbit, err := bench(c, url)
	if err != nil {
		fmt.Fprintf(stderr, "orbit bench: %v\n", err)
		return 1
	}
	ratio := 0.0
	if direct.WPS > 0 {
		ratio = orbit.WPS / direct.WPS
	}
	pipelined := ""
	if c.pipeline {
		pipelined = ", steps pipelined"
	}
	fmt.Fprintf(stdout, "%d steps, concurrency %d, %s each, mode %s%s\n", c.steps, c.concurrency, c.duration, c.mode, pipelined)
	switch {
	case c.mode == "forward":
		fmt.Fprintf(stdout, "store: none (a bare forwarder: the same exchanges, no engine)\n\n")
	case c.store == storeNATS:
		fmt.Fprintf(stdout, "store: nats, %d sidecars, %d nodes (%s)\n\n", c.sidecars, c.nodes, c.durability())
	default:
		fmt.Fprintf(stdout, "store: bbolt (%s)\n\n", c.durability())
	}
	fmt.Fprintf(stdout, "%-7s %10s %9s %9s %9s %12s %10s %9s %9s %8s\n", "side", "wf/s", "p50 ms", "p99 ms", "max ms", "CPU s/1000", "peak RSS",
		"fsync/wf", "bytes/wf", "errors")
	for _, r := range []struct {
		name string
		res  sideResult
	}{{"direct", direct}, {side, orbit}} {
		fmt.Fprintf(stdout, "%-7s %10.0f %9.2f %9.2f %9.2f %12.3f %8.1fMB %9.3f %9.0f %8d\n", r.name, r.res.WPS, r.res.P50, r.res.P99, r.res.Max,
			r.res.CPUPer1000, r.res.PeakRSSMB, r.res.SyncsPerWF, r.res.BytesPerWF, r.res.Errors)
	}
	fmt.Fprintf(stdout, "\nratio %s/direct: %.3f\n", side, ratio)
	if c.mode != "forward" {
		fmt.Fprintf(stdout, "store: %.0f group commits/s, %.1f checkpoints per commit, %.0f log bytes per workflow\n",
			orbit.CommitsPerSec, orbit.PerCommit, orbit.LogBytesPerWF)
	}
	for _, r := range []struct {
		name string
		res  sideResult
	}{{"direct", direct}, {side, orbit}} {
		fmt.Fprintf(stdout, "scheduling, %s: %.1f goroutines started, %.1f goroutine runs, %.1f thread switches, %.3f ms waiting for a CPU per workflow\n",
			r.name, r.res.GoroutinesPerWF, r.res.GoroutineRunsPerWF, r.res.ThreadSwitchesPerWF, r.res.CPUWaitPerWF)
	}
	if c.rate > 0 {
		for _, r := range []struct {
			name string
			res  sideResult
		}{{"direct", direct}, {side, orbit}} {
			fmt.Fprintf(stdout, "in service, %s: p50 %.2f, p99 %.2f ms from when a starter sent the start; %.1f%% of starts began over 1 ms after they were due\n",
				r.name, r.res.ServiceP50, r.res.ServiceP99, r.res.LateStarts)
		}
	}
	summary := map[string]any{"direct": direct, side: orbit, "ratio": ratio,
		"steps": c.steps, "concurrency": c.concurrency, "mode": c.mode, "duration_s": c.duration.Seconds(),
		"store": c.store, "durability": c.durability()}
	if c.mode == "forward" {
		summary["store"], summary["durability"] = "none", "none"
	}
	if c.store == storeNATS {
		summary["sidecars"], summary["nodes"] = c.sidecars, c.nodes
	}
	if c.rate > 0 {
		summary["rate"] = c.rate
	}
	if c.pipeline {
		summary["pipeline"] = true
	}
	if c.waiting > 0 {
		fmt.Fprintf(stderr, "bench: parking %d awaiting instances\n", c.waiting)
		w, err := benchWaiting(c.waiting, c.concurrency, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "orbit bench: waiting: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "\nwaiting: %d instances parked at %.0f/s; RSS %.1fMB at rest (store %.0fMB)\n",
			w.Instances, w.ParkPerSec, w.RSSMB, w.StoreMB)
		fmt.Fprintf(stdout, "restart: ready in %.0f ms at %.1fMB RSS; waiting instances re-checked in %.0f ms more; peak RSS %.1fMB; "+
			"RSS %.1fMB at rest after it; resumed: %v\n",
			w.RestartMS, w.RestartRSSMB, w.RecheckMS, w.PeakRSSMB, w.RestedRSSMB, w.Resumed)
		summary["waiting"] = w
	}
	if *asJSON {
		out, _ := json.Marshal(summary)
		fmt.Fprintln(stdout, string(out))
	}
	return 0
}

// downstream is the service the steps call: it answers every step at
// once, on loopback.
type downstream struct {
	ln  net.Listener
	srv *fasthttp.Server
}

func startDownstream() (*downstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"ok":true}`)
	}}
	go srv.Serve(ln)
	return &downstream{ln: ln, srv: srv}, nil
}

func (d *downstream) url() string { return "http://" + d.ln.Addr().String() }

func (d *downstream) close() { d.ln.Close() }

// measureDirect measures the direct side, then closes its connections: its
// keep-alive connections, and the downstream's goroutines and buffers
// serving them, would otherwise stay for fasthttp's idle timeout (10 s),
// into the orbit side's measured time.
func measureDirect(c benchConfig, url string) sideResult {
	call, client := callSteps(url, c.steps)
	r := measure(c, func() error { return call(nil) }, nil)
	client.CloseIdleConnections()
	return r
}

// callSteps calls the steps one after another with no orchestrator,
// through the client it returns, decoding each answer; last, when not nil,
// is given the last step's answer.
func callSteps(url string, steps int) (func(last func(body []byte)) error, *fasthttp.Client) {
	client := &fasthttp.Client{MaxConnsPerHost: 4096}
	urls := make([]string, steps)
	for i := range urls {
		urls[i] = url + "/step/" + strconv.Itoa(i+1)
	}
	work := func(last func(body []byte)) error {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		for _, u := range urls {
			req.Reset()
			req.SetRequestURI(u)
			req.Header.SetMethod("POST")
			req.Header.SetContentType("application/json")
			req.SetBodyString(`{}`)
			if err := client.Do(req, resp); err != nil {
				return err
			}
			if resp.StatusCode() != 200 {
				return fmt.Errorf("step answered %d", resp.StatusCode())
			}
			var v any
			if err := json.Unmarshal(resp.Body(), &v); err != nil {
				return err
			}
		}
		if last != nil {
			last(resp.Body())
		}
		return nil
	}
	return work, client
}

// benchForward measures a bare forwarder in Orbit's place: a fasthttp
// server that answers the waited start by calling the steps one after
// another, as the direct side does, and answering with the last step's
// result. It makes the orbit side's exchanges with no engine, store or
// scripts, so its figures are what the HTTP topology alone costs: the
// floor under any orchestrator over this API.
func benchForward(c benchConfig, downstream string) (sideResult, error) {
	call, client := callSteps(downstream, c.steps)
	defer client.CloseIdleConnections()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return sideResult{}, err
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		err := call(func(body []byte) {
			ctx.SetContentType("application/json")
			b := append(ctx.Response.SwapBody(nil)[:0], `{"status":"SUCCEEDED","output":`...)
			b = append(b, body...)
			ctx.Response.SwapBody(append(b, "}\n"...))
		})
		if err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	stopProfile, err := startProfile(c.cpuProfile)
	if err != nil {
		return sideResult{}, err
	}
	defer stopProfile()
	return measure(c, starter([]string{"http://" + ln.Addr().String() + startPath}), nil), nil
}

// startPath is the waited start both the orbit side and the forwarder
// answer.
const startPath = "/v1/workflows/bench/instances?wait=30s"

// starter is the load generator of the orbit side: a synchronous start of
// the bench workflow, at each of urls in turn, that checks the answer.
func starter(urls []string) func() error {
	client := &fasthttp.Client{MaxConnsPerHost: 4096}
	var turn atomic.Uint64
	return func() error {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(urls[turn.Add(1)%uint64(len(urls))])
		req.Header.SetMethod("POST")
		req.Header.SetContentType("application/json")
		req.SetBodyString(`{}`)
		if err := client.Do(req, resp); err != nil {
			return err
		}
		if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"SUCCEEDED"`) {
			return fmt.Errorf("start answered %d: %.200s", resp.StatusCode(), resp.Body())
		}
		return nil
	}
}

// startProfile starts a CPU profile into file, if one is named, and
// returns what stops it.
func startProfile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// benchOrbit starts Orbit in-process on a fresh temporary store, over its
// real HTTP API, and measures synchronous starts of the steps workflow.
func benchOrbit(c benchConfig, downstream string) (sideResult, error) {
	var src strings.Builder
	for i := 1; i <= c.steps; i++ {
		pipeline := ""
		if c.pipeline {
			pipeline = ", pipeline = true"
		}
		fmt.Fprintf(&src, "routine \"step%d\" { http = { method = \"POST\", url = %q, timeout = \"5s\"%s } }\n", i, downstream+"/step/"+strconv.Itoa(i), pipeline)
	}
	mode := ""
	if c.mode == "express" {
		mode = `mode = "express",`
	}
	fmt.Fprintf(&src, "workflow \"bench\" { start = \"S1\", %s states = {\n", mode)
	for i := 1; i <= c.steps; i++ {
		next := ""
		if i < c.steps {
			next = fmt.Sprintf(", next = \"S%d\"", i+1)
		}
		fmt.Fprintf(&src, "  S%d = task { routine = \"step%d\", result = \"$.s%d\"%s },\n", i, i, i, next)
	}
	src.WriteString("} }\n")

	cfg := sidecarConfig{Log: discardLog(), LuaTimeout: 100 * time.Millisecond, Store: c.store}
	var meter *metrics.Metrics
	if c.metrics {
		meter = metrics.New()
		cfg.Metrics = meter
	}
	tracer, err := openTracer(cfg.Log)
	if err != nil {
		return sideResult{}, err
	}
	defer flushTraces(tracer, cfg.Log)
	cfg.Tracer = asFlowTracer(tracer)
	opts := scriptOptions(cfg)
	b, err := scripting.LoadSources([]flow.Source{{Path: "bench.lua", Body: []byte(src.String())}}, opts)
	if err != nil {
		return sideResult{}, fmt.Errorf("bench bundle: %w", err)
	}
	ctx := context.Background()
	sidecars := 1
	if c.store == storeNATS {
		sidecars = c.sidecars
		cfg.NATSURL = c.natsURL
		if cfg.NATSURL == "" {
			dir, err := os.MkdirTemp("", "orbit-bench-nats-")
			if err != nil {
				return sideResult{}, err
			}
			defer os.RemoveAll(dir)
			cl, err := devnats.Start(devnats.Options{Dir: dir, Nodes: c.nodes, SyncAlways: c.syncAlways})
			if err != nil {
				return sideResult{}, err
			}
			defer cl.Shutdown()
			cfg.NATSURL = cl.URL()
		}
	}
	var (
		side      []*sidecar
		startURLs []string
	)
	for range sidecars {
		s, err := openSidecar(ctx, cfg, opts, b)
		if err != nil {
			return sideResult{}, err
		}
		defer s.close(ctx)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return sideResult{}, err
		}
		srv := api.New(api.Options{Engine: s.engine, Log: cfg.Log, MaxInFlight: 1 << 16, Metrics: meter})
		go srv.Serve(ln)
		defer srv.Shutdown(ctx)
		side = append(side, s)
		startURLs = append(startURLs, "http://"+ln.Addr().String()+startPath)
	}
	// The sidecar serves: it settles as orbit serve does then, so that its
	// resident set is what a serving sidecar keeps, not what loading it
	// and the direct side's run touched.
	settle()
	stats := func() (sum store.Stats) {
		for _, s := range side {
			st := s.store.Stats()
			sum.Commits += st.Commits
			sum.Checkpoints += st.Checkpoints
			sum.Syncs += st.Syncs
			sum.LogBytes += st.LogBytes
			sum.Applies += st.Applies
		}
		return sum
	}

	stopProfile, err := startProfile(c.cpuProfile)
	if err != nil {
		return sideResult{}, err
	}
	defer stopProfile()
	return measure(c, starter(startURLs), stats), nil
}

// percentiles sorts ds, which is not empty, and returns its p50, p99 and
// max in milliseconds.
func percentiles(ds []time.Duration) (p50, p99, top float64) {
	slices.Sort(ds)
	n := len(ds)
	return ms(ds[n*50/100]), ms(ds[min(n-1, n*99/100)]), ms(ds[n-1])
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// pace offers start times at rate per second, or returns nil for a closed
// loop. A start time waits in the buffer while every starter is busy; the
// channel yields zero times once stop is set.
func pace(rate float64, stop *atomic.Bool) <-chan time.Time {
	if rate <= 0 {
		return nil
	}
	due := make(chan time.Time, 1<<16)
	go func() {
		defer close(due)
		interval := time.Duration(float64(time.Second) / rate)
		next := time.Now()
		for !stop.Load() {
			if wait := time.Until(next); wait > 0 {
				time.Sleep(wait)
			}
			select {
			case due <- next:
			default: // far behind: the offered load is past what completes
			}
			next = next.Add(interval)
		}
	}()
	return due
}

// measure runs work from c.concurrency goroutines for the warm-up and then
// the measured duration, timing each completed workflow. stats, when
// given, are the store's counters, read at both ends of the measured time.
func measure(c benchConfig, work func() error, stats func() store.Stats) sideResult {
	var measuring, stop atomic.Bool
	var errs atomic.Int64
	var mu sync.Mutex
	var lat, svc []time.Duration
	var late int
	var wg sync.WaitGroup
	due := pace(c.rate, &stop)
	for range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			var localSvc []time.Duration
			localLate := 0
			for !stop.Load() {
				t0 := time.Now()
				sent := t0
				if due != nil {
					// Latency counts from when the start was due, so that a
					// backlog shows in it instead of hiding.
					if t0 = <-due; t0.IsZero() {
						break
					}
					sent = time.Now()
				}
				err := work()
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				end := time.Now()
				local = append(local, end.Sub(t0))
				if due != nil {
					localSvc = append(localSvc, end.Sub(sent))
					if sent.Sub(t0) > time.Millisecond {
						localLate++
					}
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			svc = append(svc, localSvc...)
			late += localLate
			mu.Unlock()
		}()
	}
	peak := sampleRSS()
	time.Sleep(c.warmup)
	var st0, st1 store.Stats
	if stats != nil {
		st0 = stats()
	}
	cpu0, wb0, sched0, wait0 := cputime.Process(), writeBytes(), readSched(), cputime.Waiting()
	peak.reset()
	measuring.Store(true)
	time.Sleep(c.duration)
	measuring.Store(false)
	cpu, wb, sched, wait := cputime.Process()-cpu0, writeBytes()-wb0, readSched().minus(sched0), cputime.Waiting()-wait0
	if stats != nil {
		st1 = stats()
	}
	rss := peak.stop()
	stop.Store(true)
	wg.Wait()

	r := sideResult{Completed: len(lat), Errors: int(errs.Load()), WPS: float64(len(lat)) / c.duration.Seconds(), PeakRSSMB: rss}
	if n := len(lat); n > 0 {
		r.P50, r.P99, r.Max = percentiles(lat)
		r.CPUPer1000 = cpu.Seconds() / float64(n) * 1000
		r.BytesPerWF = float64(wb) / float64(n)
		r.SyncsPerWF = float64(st1.Syncs-st0.Syncs) / float64(n)
		r.LogBytesPerWF = float64(st1.LogBytes-st0.LogBytes) / float64(n)
		r.GoroutinesPerWF = float64(sched.goroutines) / float64(n)
		r.GoroutineRunsPerWF = float64(sched.runs) / float64(n)
		r.ThreadSwitchesPerWF = float64(sched.switches) / float64(n)
		r.CPUWaitPerWF = ms(wait) / float64(n)
	}
	if n := len(svc); n > 0 {
		r.ServiceP50, r.ServiceP99, _ = percentiles(svc)
		r.LateStarts = 100 * float64(late) / float64(n)
	}
	if commits := st1.Commits - st0.Commits; commits > 0 {
		r.CommitsPerSec = float64(commits) / c.duration.Seconds()
		r.PerCommit = float64(st1.Checkpoints-st0.Checkpoints) / float64(commits)
	}
	return r
}

// writeBytes is what the process has caused to be written to storage, as
// the kernel counts it (0 where /proc/self/io is missing).
func writeBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			return n
		}
	}
	return 0
}

// schedCounts are the schedulers' counters of the process: goroutines
// created, goroutines set running, context switches of its threads.
type schedCounts struct{ goroutines, runs, switches uint64 }

func (a schedCounts) minus(b schedCounts) schedCounts {
	return schedCounts{a.goroutines - b.goroutines, a.runs - b.runs, a.switches - b.switches}
}

// runtimeTrackingPeriod is how many of a goroutine's schedulings the Go
// runtime goes through per one it times: /sched/latencies counts one in
// eight, from a random start per goroutine.
const runtimeTrackingPeriod = 8

// readSched reads the counters: the Go runtime's (the schedulings of
// goroutines, estimated from /sched/latencies' sample) and the kernel's
// voluntary and involuntary context switches.
func readSched() schedCounts {
	samples := []rtmetrics.Sample{{Name: "/sched/goroutines-created:goroutines"}, {Name: "/sched/latencies:seconds"}}
	rtmetrics.Read(samples)
	var c schedCounts
	if samples[0].Value.Kind() == rtmetrics.KindUint64 {
		c.goroutines = samples[0].Value.Uint64()
	}
	if samples[1].Value.Kind() == rtmetrics.KindFloat64Histogram {
		for _, n := range samples[1].Value.Float64Histogram().Counts {
			c.runs += n * runtimeTrackingPeriod
		}
	}
	c.switches = cputime.Switches()
	return c
}

// rssSampler keeps the largest resident set size seen, in MB.
type rssSampler struct {
	mu   sync.Mutex
	peak float64
	done chan struct{}
}

func sampleRSS() *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				if v := rssMB(); v > 0 {
					s.mu.Lock()
					s.peak = max(s.peak, v)
					s.mu.Unlock()
				}
			}
		}
	}()
	return s
}

func (s *rssSampler) reset() { s.mu.Lock(); s.peak = rssMB(); s.mu.Unlock() }

func (s *rssSampler) stop() float64 {
	close(s.done)
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.peak, rssMB())
}

// rssMB reads the current resident set size from /proc (0 elsewhere).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
