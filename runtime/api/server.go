// Package api is Orbit's HTTP API (SPEC section 3): a fasthttp server over
// the engine that starts instances, delivers events, cancels, pauses,
// resumes and redrives them, lists and describes workflows, and serves
// health, readiness and Prometheus metrics.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/metrics"
	"github.com/orbit-sidecar/orbit/store"
)

// Options configures a Server. Engine is required; every other field has a
// default.
type Options struct {
	// Engine runs the instances the API starts and controls.
	Engine *engine.Engine
	// Token, when set, is required on every /v1 request as
	// "Authorization: Bearer <token>".
	Token string
	// AllowHosts are names, beside IP addresses and localhost, that a
	// request's Host header may carry (the listen address's name, names
	// of a proxy in front); "*" allows any. Others are refused, since a
	// web page under a foreign name may be a DNS-rebinding attack.
	AllowHosts []string
	// AllowOrigins are web origins ("https://ops.example.com") whose pages
	// may call /v1 from a browser; the API answers their preflights. A
	// page the sidecar serves itself (the console) needs no entry; other
	// cross-site browser requests are refused.
	AllowOrigins []string
	// MaxPayload bounds request bodies (inputs and event payloads), in
	// bytes; 0: 256 KiB, as the engine's default.
	MaxPayload int
	// MaxInFlight bounds /v1 requests served at once; past it the API
	// answers 429 with Retry-After instead of queueing without end.
	// 0: 4096.
	MaxInFlight int
	// MaxWait caps the wait of a synchronous start; 0: 5 minutes.
	MaxWait time.Duration
	// ControlWait bounds how long cancel, pause, resume and redrive wait
	// for the engine before answering 202 anyway; 0: 2 seconds.
	ControlWait time.Duration
	// Timeouts against slow clients; 0: 30s read, 30s write, 2m idle.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Metrics is served at /metrics, and counts and times the requests;
	// its OnEvent and OnStep must be the engine's for the engine's series
	// to move (metrics.Metrics.Watch adds the engine's gauges). nil: a
	// fresh set, which counts requests only.
	Metrics *metrics.Metrics
	// Problems returns the current reload problems as file:line: message
	// strings, for GET /v1/workflows; nil: none.
	Problems func() []string
	// Plugins returns the loaded plugins for GET /v1/plugins; nil or a nil
	// result: an empty list.
	Plugins func() any
	// Ready reports why the sidecar cannot serve yet (nil: it can), beyond
	// the bundle being loaded, which the server checks itself.
	Ready func() error
	// Snapshots serves GET /v1/backup (the store, when it can take a
	// consistent copy of itself while serving); nil: the endpoint answers
	// 501 not_implemented.
	Snapshots store.Snapshotter
	// Log receives unexpected failures; nil: slog.Default().
	Log *slog.Logger
}

// Server serves the API on listeners until Shutdown.
type Server struct {
	opt      Options
	engine   *engine.Engine
	metrics  *metrics.Metrics
	http     *fasthttp.Server
	routes   []route
	guard    protection
	inFlight atomic.Int64
	// consoleFiles are the web console's files, prepared once.
	consoleFiles map[string]*consoleFile

	// closing ends when Shutdown starts, so that waiting synchronous starts
	// answer at once. Waits derive from it rather than from a request's
	// context: fasthttp recycles a RequestCtx when its handler returns, and
	// a deadline timer firing later would read the next request's values.
	closing context.Context
	close   context.CancelFunc
}

const (
	defaultMaxPayload  = 256 << 10
	defaultMaxInFlight = 4096
	defaultMaxWait     = 5 * time.Minute
	// bodySlack lets fasthttp read a body somewhat over MaxPayload so that
	// the handler, not the connection layer, answers 413 as JSON.
	bodySlack = 64 << 10
)

// New makes a server; call Serve to accept connections.
func New(opt Options) *Server {
	if opt.MaxPayload <= 0 {
		opt.MaxPayload = defaultMaxPayload
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = defaultMaxInFlight
	}
	if opt.MaxWait <= 0 {
		opt.MaxWait = defaultMaxWait
	}
	opt.ControlWait = orDefault(opt.ControlWait, 2*time.Second)
	opt.ReadTimeout = orDefault(opt.ReadTimeout, 30*time.Second)
	opt.WriteTimeout = orDefault(opt.WriteTimeout, 30*time.Second)
	opt.IdleTimeout = orDefault(opt.IdleTimeout, 2*time.Minute)
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	s := &Server{opt: opt, engine: opt.Engine, metrics: opt.Metrics}
	s.closing, s.close = context.WithCancel(context.Background())
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	s.routes = s.table()
	s.consoleFiles = loadConsole()
	s.guard = newProtection(opt)
	s.http = &fasthttp.Server{
		Handler:               s.serve,
		ErrorHandler:          s.connError,
		ReadTimeout:           opt.ReadTimeout,
		WriteTimeout:          opt.WriteTimeout,
		IdleTimeout:           opt.IdleTimeout,
		MaxRequestBodySize:    opt.MaxPayload + bodySlack,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		NoDefaultServerHeader: true,
		Logger:                fasthttpLogger{opt.Log},
	}
	return s
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Serve accepts connections on ln until Shutdown; it returns nil after a
// Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(ln) }

// Shutdown stops accepting, ends waits of synchronous starts early and
// waits for open requests to finish or ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.close()
	return s.http.ShutdownWithContext(ctx)
}

// fasthttpLogger sends fasthttp's own messages to slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("http", "msg", fmt.Sprintf(format, args...))
}
