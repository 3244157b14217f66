package nats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/orbit-sidecar/orbit/store"
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store is closed")

// DefaultStream is the stream Orbit keeps its state in unless told otherwise.
const DefaultStream = "ORBIT"

// Options configure the connection and the stream.
type Options struct {
	// URL lists the servers, comma-separated (nats://host:port,...).
	URL string
	// Stream names the stream (and the root of its subjects); "" is
	// DefaultStream. Sidecars that share state share the stream name.
	Stream string
	// Replicas is how many servers keep each message: 0 picks 3 when the
	// cluster has at least three servers and 1 otherwise.
	Replicas int
	// Timeout bounds one request to the servers; 0 means 5 seconds. A
	// request that times out during a fail-over is retried until
	// RetryFor has passed.
	Timeout time.Duration
	// RetryFor bounds the retries of one write or read; 0 means 30 seconds.
	RetryFor time.Duration
	// Name is how this process introduces itself to the servers.
	Name string
	// Node names this sidecar in leases; "" picks a unique name.
	Node string
	// LeaseTTL is how long a lease lasts without renewal, and how long
	// work stays with a sidecar that does not settle it; 0 means
	// DefaultLeaseTTL. It is rounded down to whole seconds (at least one).
	LeaseTTL time.Duration
	Logger   *slog.Logger
}

// Store is a store.Store on a JetStream stream. It is safe for concurrent use.
type Store struct {
	opts   Options
	log    *slog.Logger
	nc     *natsgo.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	subj   subjects
	// barrier is this store's subject for the marks that scans wait for.
	barrier string

	queue chan *job
	wg    sync.WaitGroup

	mu     sync.RWMutex // closed, and Commit's use of queue
	closed bool

	node     string
	leaseTTL time.Duration
	work     worker

	commits, checkpoints atomic.Uint64
	pendingSeq           seqClock
}

var _ store.Store = (*Store)(nil)

var streamName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// committers is how many atomic batches one store keeps in flight at once:
// while one waits for its replicas, the next group forms. More than two
// split the waiting checkpoints into more, smaller batches, and a server
// pays for every batch (on one node it stages each in a file store of its
// own): with four, one sidecar spent 3.0-4.1 CPU seconds per 1,000
// bench workflows at 9 checkpoints per batch, with two 2.4-2.5 at 17.
const committers = 2

// Open connects to the servers and creates the stream, or checks and
// updates one that exists.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.URL == "" {
		return nil, errors.New("nats: no server URL given (--nats-url)")
	}
	if opts.Stream == "" {
		opts.Stream = DefaultStream
	}
	if !streamName.MatchString(opts.Stream) {
		return nil, fmt.Errorf("nats: stream name %q may hold only letters, digits, _ and -", opts.Stream)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.RetryFor <= 0 {
		opts.RetryFor = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	name := opts.Name
	if name == "" {
		name = "orbit"
	}
	nc, err := natsgo.Connect(opts.URL,
		natsgo.Name(name),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(100*time.Millisecond),
		natsgo.RetryOnFailedConnect(false),
		natsgo.Timeout(opts.Timeout),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				log.Warn("nats: disconnected", "err", err)
			}
		}),
		natsgo.ReconnectHandler(func(c *natsgo.Conn) { log.Info("nats: reconnected", "server", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w", opts.URL, err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(opts.Timeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	s := &Store{opts: opts, log: log, nc: nc, js: js, subj: subjects{root: opts.Stream},
		queue: make(chan *job, 4*maxGroup)}
	s.barrier = s.subj.barrier(nuid.Next())
	s.node = cmp.Or(opts.Node, nuid.Next())
	s.leaseTTL = max(cmp.Or(opts.LeaseTTL, DefaultLeaseTTL).Truncate(time.Second), time.Second)
	if err := s.ensureStream(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	for range committers {
		s.wg.Go(s.run)
	}
	return s, nil
}

// ensureStream creates the stream or brings an existing one's settings to
// what this version needs.
func (s *Store) ensureStream(ctx context.Context) error {
	replicas := s.opts.Replicas
	if replicas <= 0 {
		replicas = 1
		if n := len(s.nc.Servers()); n >= 3 {
			replicas = 3
		}
	}
	cfg := jetstream.StreamConfig{
		Name:        s.opts.Stream,
		Description: "Orbit's shared state: instances, history, timers, pending events, bundles",
		Subjects:    []string{s.subj.everything()},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		// Every subject is one key: a write replaces what was there.
		MaxMsgsPerSubject: 1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		// Reads go to the stream leader, never to a replica that may lag
		// behind a write the caller has just seen acknowledged.
		AllowDirect:        false,
		AllowAtomicPublish: true,
		AllowMsgTTL:        true, // deletion markers and leases expire
		AllowMsgSchedules:  true, // durable timers
		Duplicates:         2 * time.Minute,
	}
	var err error
	for deadline := time.Now().Add(s.opts.RetryFor); ; {
		rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		s.stream, err = s.js.CreateOrUpdateStream(rctx, cfg)
		cancel()
		if err == nil || !transient(err) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("nats: create stream %s (%d replicas): %w", cfg.Name, replicas, err)
	}
	return nil
}

// Close writes what is queued, stops the committers and closes the
// connection. Closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	s.wg.Wait()
	if s.work.it != nil {
		s.work.it.Stop()
	}
	return s.nc.Drain()
}

// Stats counts atomic batches written and the checkpoints they carried.
func (s *Store) Stats() store.Stats {
	return store.Stats{Commits: s.commits.Load(), Checkpoints: s.checkpoints.Load()}
}

// Conn is the store's connection, for the parts of Orbit that share it.
func (s *Store) Conn() *natsgo.Conn { return s.nc }

// transient reports whether a failed request may succeed when repeated: a
// timeout, a lost connection or a leader election under way.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errLagging) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, natsgo.ErrTimeout) ||
		errors.Is(err, natsgo.ErrNoResponders) || errors.Is(err, natsgo.ErrConnectionReconnecting) ||
		errors.Is(err, natsgo.ErrDisconnected) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrNoHeartbeat) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.Code {
		case 503, 408: // no leader yet, request timed out in the cluster
			return true
		}
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamNotFound:
			return false
		}
		return strings.Contains(apiErr.Description, "leader") || strings.Contains(apiErr.Description, "timeout") ||
			strings.Contains(apiErr.Description, "incomplete")
	}
	return false
}

// retry runs op until it succeeds, fails for good, or RetryFor has passed.
func (s *Store) retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	deadline := time.Now().Add(s.opts.RetryFor)
	wait := 20 * time.Millisecond
	for {
		rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		err := op(rctx)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("nats: %s: %w", what, err)
			}
			return nil
		}
		s.log.Debug("nats: retrying", "op", what, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("nats: %s: %w", what, ctx.Err())
		}
		wait = min(2*wait, time.Second)
	}
}

// seqClock hands out increasing numbers that follow the wall clock, so
// that the pending events of many processes sort roughly by arrival.
type seqClock struct {
	mu   sync.Mutex
	last uint64
}

func (c *seqClock) next() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = max(c.last+1, uint64(time.Now().UnixNano()))
	return c.last
}
