package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/metrics"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

func init() {
	register("serve", "run the sidecar: load scripts, resume instances, serve the HTTP API", cmdServe)
}

// shutdownGrace is how long running steps get to checkpoint on SIGTERM.
const shutdownGrace = 5 * time.Second

func cmdServe(args []string, _, stderr io.Writer) int {
	fs := newFlags("serve", "[flags]  (each flag also from ORBIT_<NAME>)", stderr)
	listen := fs.String("listen", "127.0.0.1:7077", "address of the HTTP API; port 0 picks a free one")
	scripts := fs.String("scripts", "./scripts", "scripts directory (the bundle)")
	pf := addPluginFlags(fs)
	sf := addStoreFlags(fs)
	initEmpty := fs.Bool("init-empty", false, "make an existing, empty (0-byte) data file a new store instead of refusing it")
	token := fs.String("token", "", "bearer token every /v1 request must carry")
	allowHosts := &listFlag{check: api.CheckAllowedHost}
	fs.Var(allowHosts, "allow-host", "Host names the API answers to beside IP addresses, localhost and the --listen name, comma-separated; * for any")
	allowOrigins := &listFlag{check: api.CheckOrigin}
	fs.Var(allowOrigins, "allow-origin", "web origins (https://ops.example.com) whose pages may call /v1 from a browser, comma-separated")
	maxPayload := byteSize(256 << 10)
	fs.Var(&maxPayload, "max-payload", "largest input, output, event payload and instance data, a `size` like 256KiB, 1MiB or 262144")
	maxPendingEvents := fs.Int("max-pending-events", engine.DefaultMaxPendingEvents,
		"most events kept for one instance that does not await them yet; more are answered 429")
	var maxPendingBytes byteSize
	fs.Var(&maxPendingBytes, "max-pending-bytes", "most payload bytes kept for one instance that does not await them yet, a `size` (default 4 × --max-payload)")
	retention := fs.Duration("retention", 168*time.Hour, "how long ended instances and their history are kept")
	sweep := fs.Duration("retention-sweep", time.Minute, "how often ended instances past --retention are purged")
	luaTimeout := fs.Duration("lua-timeout", 100*time.Millisecond, "longest a Lua call may run")
	env := scriptEnvFlag(fs)
	maxInFlight := fs.Int("max-in-flight", 4096, "most /v1 requests served at once; more are answered 429")
	pprofAddr := fs.String("pprof", "", "serve the Go profiler on this address (off when empty)")
	lf := addLogFlags(fs)
	if _, code, ok := parseData(fs, args, 0, stderr, sf.check, pf.check); !ok {
		return code
	}
	runtime.MemProfileRate = heapProfileRate(*pprofAddr != "", os.Getenv("GODEBUG"))
	if _, err := os.Stat(*scripts); errors.Is(err, os.ErrNotExist) {
		// A user's own folder of workflows is what serve needs first.
		fmt.Fprintf(stderr, "orbit: --scripts %s: no such file or directory; point --scripts (or ORBIT_SCRIPTS) at your workflows' folder\n", *scripts)
		return 1
	}
	if *retention <= 0 || *sweep <= 0 {
		fmt.Fprintln(stderr, "orbit: --retention and --retention-sweep must be positive")
		return 2
	}
	if *maxPendingEvents <= 0 {
		fmt.Fprintln(stderr, "orbit: --max-pending-events must be positive")
		return 2
	}
	if maxPendingBytes != 0 && maxPendingBytes < maxPayload {
		fmt.Fprintf(stderr, "orbit: --max-pending-bytes %s is below --max-payload %s: an event of the largest size could never be kept\n",
			maxPendingBytes.String(), maxPayload.String())
		return 2
	}
	log := lf.logger(stderr)
	tracer, err := openTracer(log)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 2
	}
	defer flushTraces(tracer, log) // after the engine's close has ended the last spans
	meter := metrics.New()
	cfg := sidecarConfig{Scripts: *scripts, Store: storeKind(*sf.kind), NATSURL: *sf.natsURL, Data: *sf.data, InitEmpty: *initEmpty, LuaTimeout: *luaTimeout, ScriptEnv: env.env,
		MaxPayload: int(maxPayload), MaxPendingEvents: *maxPendingEvents, MaxPendingBytes: int(maxPendingBytes),
		Log: log, Metrics: meter, Tracer: asFlowTracer(tracer)}
	opts := scriptOptions(cfg)
	kv := &storeKV{}
	pluginOpts := pf.options(*sf.data, opts.HTTP, kv, log)
	pluginOpts.OnCall = meter.OnPluginCall
	live, err := openPlugins(*pf.dir, pluginOpts)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 1
	}
	opts.Plugins = live
	defer live.Host().Close(context.Background())
	b, ok := loadBundle(*scripts, opts, stderr)
	if !ok {
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: listen on %s: %v\n", *listen, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := openSidecar(ctx, cfg, opts, b)
	if err != nil {
		ln.Close()
		if errors.Is(err, bolt.ErrEmptyFile) {
			err = fmt.Errorf("%w (--init-empty)", err)
		}
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 1
	}
	kv.st.Store(&s.store)
	rl := &reloader{scripts: *scripts, plugins: *pf.dir, pluginOpts: pluginOpts, opts: opts, live: live,
		engine: s.engine, metrics: meter, log: log}
	if err := rl.watch(ctx); err != nil {
		log.Warn("scripts are not watched for changes; SIGHUP reloads them", "err", err)
	}
	var closing atomic.Bool
	srv := api.New(api.Options{
		Problems: rl.Problems,
		Engine:   s.engine, Token: *token, MaxPayload: int(maxPayload), MaxInFlight: *maxInFlight, Metrics: meter, Log: log,
		AllowHosts: append(allowHosts.vals, listenName(*listen)...), AllowOrigins: allowOrigins.vals,
		Plugins: func() any {
			b := s.engine.Bundle()
			return live.Host().Info(func(workflow string) bool { return b != nil && b.Workflows[workflow] != nil })
		},
		Snapshots: snapshots(s.store),
		Ready: func() error {
			if closing.Load() {
				return errors.New("shutting down")
			}
			return nil
		},
	})
	go sweepRetention(ctx, s.engine, *retention, *sweep, log)
	if *pprofAddr != "" {
		p := servePprof(*pprofAddr, log)
		defer p.Close()
	}
	// The startup line goes with the log, to stderr, so that one stream
	// tells the whole story of a run; in JSON it is a log record too.
	where, carried := *sf.data, "resumed"
	var what string
	if cfg.Store == storeNATS {
		// Sidecars sharing a store resume nothing themselves: the store
		// delivers each instance's work to whichever sidecar takes it.
		where, carried, what = "nats "+*sf.natsURL, "shared with other sidecars:", "instances are taken as work arrives"
	} else {
		what = resumed(s.store)
	}
	if lf.json() {
		log.Info("listening", "addr", ln.Addr().String(), "scripts", *scripts, "workflows", len(b.Workflows),
			"bundle", short(b.Hash), "data", where, carried, what)
	} else {
		fmt.Fprintf(stderr, "orbit: listening on %s (scripts %s: %d workflows, bundle %s; data %s; %s %s)\n",
			ln.Addr(), *scripts, len(b.Workflows), short(b.Hash), where, carried, what)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	settle()
	exit := 0
	select {
	case <-ctx.Done():
		stop() // a second signal ends the process at once
		log.Info("shutting down")
	case err := <-served:
		log.Error("serve", "err", err)
		exit = 1
	}
	closing.Store(true)
	grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(grace); err != nil {
		log.Warn("requests still open at shutdown", "err", err)
	}
	s.close(grace)
	return exit
}

// listenName is the host name of a --listen address, which requests may
// carry in Host; none for an IP address or an empty host.
func listenName(listen string) []string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" || net.ParseIP(host) != nil {
		return nil
	}
	return []string{host}
}

// resumed describes the instances that had not ended at startup, which the
// engine carries on with.
func resumed(st store.Store) string {
	counts := map[store.Status]int{}
	total := 0
	if err := st.Unfinished(func(_ string, status store.Status) error {
		counts[status]++
		total++
		return nil
	}); err != nil {
		return "unknown: " + err.Error()
	}
	if total == 0 {
		return "0 instances"
	}
	parts := make([]string, 0, len(counts))
	for status, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(string(status))))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d instances: %s", total, strings.Join(parts, ", "))
}

// snapshots is the store as GET /v1/backup serves it: nil for a store that
// cannot copy itself (NATS), which the endpoint then says.
func snapshots(st store.Store) store.Snapshotter {
	sn, _ := st.(store.Snapshotter)
	return sn
}
