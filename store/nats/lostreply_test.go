package nats_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/devnats/devnatstest"
	"github.com/orbit-sidecar/orbit/store"
	natsstore "github.com/orbit-sidecar/orbit/store/nats"
)

// cutter is a TCP proxy on loopback between a store and its server that
// cuts the connection once a chosen message has reached the server and
// before the server's answer gets back: the write is stored, and the
// writer hears nothing, as in a fail-over or a connection hiccup.
type cutter struct {
	t      *testing.T
	ln     net.Listener
	server string

	mu      sync.Mutex
	subject string        // cut after the next message on subject ("": none)
	done    chan struct{} // closed once that cut happened
	held    bool          // refuse new connections
	conns   []net.Conn
}

func newCutter(t *testing.T, server string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutter{t: t, ln: ln, server: strings.TrimPrefix(server, "nats://")}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *cutter) URL() string { return "nats://" + p.ln.Addr().String() }

// cutAfter arms the cut for the next message published on subject.
func (p *cutter) cutAfter(subject string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subject, p.done = subject, make(chan struct{})
}

// hold refuses the store's reconnections (with on) or lets them in again.
func (p *cutter) hold(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = on
}

// waitCut waits until the armed cut happened.
func (p *cutter) waitCut() {
	p.t.Helper()
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.t.Fatal("the proxy never saw the message it was to cut after")
	}
}

func (p *cutter) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		held := p.held
		p.mu.Unlock()
		if held {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.server)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go p.pipe(c, s)
	}
}

// pipe forwards one connection, looking in what the client sends for the
// armed message (HPUB <subject> <reply> <header bytes> <total bytes>).
func (p *cutter) pipe(client, server net.Conn) {
	var cut atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !cut.Load() {
				if _, err := client.Write(buf[:n]); err != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		client.Close()
		server.Close()
	}()
	buf := make([]byte, 64<<10)
	var held []byte // read, not yet forwarded: the armed message so far
	for {
		n, err := client.Read(buf)
		if err != nil {
			client.Close()
			server.Close()
			return
		}
		data := append(held, buf[:n]...)
		held = nil
		p.mu.Lock()
		subject, done := p.subject, p.done
		p.mu.Unlock()
		at := -1
		if subject != "" {
			at = bytes.Index(data, []byte("HPUB "+subject+" "))
		}
		if at < 0 {
			if _, err := server.Write(data); err != nil {
				return
			}
			continue
		}
		end, whole := messageEnd(data[at:])
		if !whole {
			held = data // the rest of the message is still coming
			continue
		}
		p.mu.Lock()
		if p.done == done {
			p.subject = ""
		}
		p.mu.Unlock()
		// The answer is dropped from now on; the server reads the message
		// and then the end of the connection.
		cut.Store(true)
		server.Write(data[:at+end])
		server.(*net.TCPConn).CloseWrite()
		client.Close()
		close(done)
		io.Copy(io.Discard, server)
		return
	}
}

// messageEnd is the length of the HPUB message msg starts with, and
// whether msg holds all of it.
func messageEnd(msg []byte) (int, bool) {
	eol := bytes.Index(msg, []byte("\r\n"))
	if eol < 0 {
		return 0, false
	}
	f := strings.Fields(string(msg[:eol]))
	total, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		return 0, false
	}
	end := eol + 2 + total + 2
	return end, len(msg) >= end
}

// heldLease is the lease of a sidecar that must keep its leases while a
// test runs: nothing renews them, and a write whose reply was lost
// returns only once its request timed out, its connection came back and
// a copy sent again was answered, which on a busy machine can outlast a
// lease of a few seconds.
const heldLease = time.Minute

// lostReplyStores opens sidecar a through a cutter, with leases of ttl,
// and sidecar b directly, with leases of heldLease, on one stream of a
// one-node server.
func lostReplyStores(t *testing.T, ttl time.Duration) (a, b *natsstore.Store, p *cutter, stream string) {
	t.Helper()
	c := devnatstest.Start(t, 1)
	p = newCutter(t, c.URL())
	stream = streamFor(t.Name())
	open := func(url, node string, ttl time.Duration) *natsstore.Store {
		s, err := natsstore.Open(context.Background(), natsstore.Options{
			URL: url, Stream: stream, Replicas: 1, Node: node, LeaseTTL: ttl,
			// A request whose answer was lost is given up and sent again
			// after this long.
			Timeout: 500 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(p.URL(), "a", ttl), open(c.URL(), "b", heldLease), p, stream
}

// running is instance id's record, running.
func running(id string) *store.Instance {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &store.Instance{Public: store.Public{ID: id, Workflow: "wf", Version: "v1", Status: store.Running,
		State: "Start", StartedAt: start, UpdatedAt: start}, Bundle: "bundle-1"}
}

// stillHeld checks that a holds l: another sidecar's claim is refused
// naming a, and a's next renewal and checkpoint with l are applied.
func stillHeld(t *testing.T, a, b *natsstore.Store, l *store.Lease) {
	t.Helper()
	ctx := context.Background()
	var owned *store.OwnedError
	if _, err := b.Claim(ctx, l.Instance); !errors.As(err, &owned) || owned.Node != a.Node() {
		t.Errorf("another sidecar's claim: %v, want the instance owned by %s", err, a.Node())
	}
	if err := a.Renew(ctx, l); err != nil {
		t.Errorf("the next renewal: %v", err)
	}
	in := running(l.Instance)
	in.State = "Next"
	if err := a.CommitLeased(ctx, &store.Batch{Instances: []*store.Instance{in}}, l); err != nil {
		t.Errorf("the next checkpoint: %v", err)
	}
}

// TestRenewalWithLostReply stores a renewal whose answer is lost: the
// store sends it again, the server refuses the copy (the lease's last
// sequence is the renewal itself), and the lease is still held, not
// fenced.
func TestRenewalWithLostReply(t *testing.T) {
	a, b, p, stream := lostReplyStores(t, heldLease)
	ctx := context.Background()
	l, err := a.Claim(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	p.cutAfter(stream + ".x.x.l")
	if err := a.Renew(ctx, &l); err != nil {
		t.Fatalf("a renewal whose answer was lost: %v", err)
	}
	p.waitCut()
	stillHeld(t, a, b, &l)
}

// TestCheckpointWithLostReply is TestRenewalWithLostReply for a
// checkpoint, whose renewal goes in one atomic batch with its writes.
func TestCheckpointWithLostReply(t *testing.T) {
	a, b, p, stream := lostReplyStores(t, heldLease)
	ctx := context.Background()
	l, err := a.Claim(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	// The record is the batch's last message, which commits it.
	p.cutAfter(stream + ".x.x.r")
	if err := a.CommitLeased(ctx, &store.Batch{Instances: []*store.Instance{running("x")}}, &l); err != nil {
		t.Fatalf("a checkpoint whose answer was lost: %v", err)
	}
	p.waitCut()
	if got, err := b.Instance("x"); err != nil || got.State != "Start" {
		t.Errorf("the checkpoint's record: %+v, %v", got, err)
	}
	stillHeld(t, a, b, &l)
}

// TestLostReplyThenTakenOver stores a renewal whose answer is lost and
// keeps its sidecar cut off until the lease lapsed and another sidecar
// claimed it: the copy sent then is refused, and reported as a fence.
// The other sidecar's lease is heldLease, so that it still holds the
// instance when a's write comes back, however long that took.
func TestLostReplyThenTakenOver(t *testing.T) {
	for _, tc := range []struct {
		name    string
		subject string // the message the cut follows
		write   func(a *natsstore.Store, l *store.Lease) error
	}{
		{"Renew", ".x.x.l", func(a *natsstore.Store, l *store.Lease) error { return a.Renew(context.Background(), l) }},
		{"CommitLeased", ".x.x.r", func(a *natsstore.Store, l *store.Lease) error {
			return a.CommitLeased(context.Background(), &store.Batch{Instances: []*store.Instance{running("x")}}, l)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, p, stream := lostReplyStores(t, time.Second)
			ctx := context.Background()
			l, err := a.Claim(ctx, "x")
			if err != nil {
				t.Fatal(err)
			}
			p.cutAfter(stream + tc.subject)
			p.hold(true)
			errc := make(chan error, 1)
			go func() { errc <- tc.write(a, &l) }()
			p.waitCut()
			deadline := time.Now().Add(30 * time.Second)
			for {
				_, err := b.Claim(ctx, "x")
				if err == nil {
					break
				}
				if !errors.Is(err, store.ErrOwned) || time.Now().After(deadline) {
					t.Fatalf("claim once a's lease lapsed: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			p.hold(false)
			if err := <-errc; !errors.Is(err, store.ErrFenced) {
				t.Errorf("a write of a lease taken over since: %v, want store.ErrFenced", err)
			}
			var owned *store.OwnedError
			if _, err := a.Claim(ctx, "x"); !errors.As(err, &owned) || owned.Node != b.Node() {
				t.Errorf("a's claim: %v, want the instance owned by %s", err, b.Node())
			}
		})
	}
}
