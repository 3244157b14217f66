// Package devnats runs NATS servers with JetStream inside the current
// process, on loopback ports the OS picks: one node, or a cluster of
// several. `orbit devcluster` and the tests of the NATS store use it, so
// that trying the scale-out mode needs no system package.
package devnats

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure a set of servers.
type Options struct {
	// Dir holds one JetStream store directory per node (node0, node1, ...).
	Dir string
	// Nodes is how many servers to run; more than one forms a cluster.
	Nodes int
	// SyncAlways makes every node fsync each write before acknowledging
	// it, instead of the server's default of every two minutes.
	SyncAlways bool
	// Ready bounds the wait for the servers (and a cluster's JetStream
	// leader) to come up; 0 means 30 seconds.
	Ready time.Duration
}

// Cluster is a running set of servers. Nodes may be stopped and started
// again (a test's node failure); the others keep serving.
type Cluster struct {
	opts Options

	mu      sync.Mutex
	servers []*server.Server // nil while a node is stopped
	ports   []int            // client port of each node, kept across restarts
	routes  []*url.URL       // cluster address of each node, likewise
}

// Start runs the servers and waits until they accept JetStream requests.
func Start(opts Options) (*Cluster, error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.Ready <= 0 {
		opts.Ready = 30 * time.Second
	}
	c := &Cluster{opts: opts, servers: make([]*server.Server, opts.Nodes)}
	// Every node knows every other's route from the start, so the ports
	// are chosen first: a clustered JetStream node does not come up alone.
	for range opts.Nodes {
		client, err := freePort()
		if err != nil {
			return nil, err
		}
		c.ports = append(c.ports, client)
		if opts.Nodes > 1 {
			route, err := freePort()
			if err != nil {
				return nil, err
			}
			c.routes = append(c.routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", route)})
		}
	}
	for i := range opts.Nodes {
		if err := c.start(i); err != nil {
			c.Shutdown()
			return nil, err
		}
	}
	if err := c.WaitReady(opts.Ready); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// start runs node i, routing it to every node that has an address.
func (c *Cluster) start(i int) error {
	dir := filepath.Join(c.opts.Dir, fmt.Sprintf("node%d", i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	o := &server.Options{
		ServerName: fmt.Sprintf("orbit-n%d", i),
		Host:       "127.0.0.1",
		Port:       c.ports[i],
		JetStream:  true,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
		SyncAlways: c.opts.SyncAlways,
		// Keep a test's or a laptop's servers from claiming most of the
		// machine's memory and disk for their accounting.
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  8 << 30,
	}
	if c.opts.Nodes > 1 {
		o.Cluster = server.ClusterOpts{Name: "orbit", Host: "127.0.0.1", Port: portOf(c.routes[i])}
		for j, r := range c.routes {
			if j != i {
				o.Routes = append(o.Routes, r)
			}
		}
	}
	s, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("nats node %d: %w", i, err)
	}
	// Start returns once the listeners are up; a clustered node's
	// JetStream comes up with its peers, which WaitReady waits for.
	s.Start()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.servers[i] = s
	return nil
}

func portOf(u *url.URL) int {
	p, _ := strconv.Atoi(u.Port())
	return p
}

// freePort asks the OS for a loopback port that is free now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitReady waits until every running node is up and, in a cluster, a
// JetStream leader is elected and every running node is current with it.
func (c *Cluster) WaitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c.mu.Lock()
		servers := append([]*server.Server(nil), c.servers...)
		c.mu.Unlock()
		if ready(servers, c.opts.Nodes > 1) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("nats: no JetStream leader was elected in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ready(servers []*server.Server, clustered bool) bool {
	leader := false
	for _, s := range servers {
		if s == nil {
			continue
		}
		if !s.JetStreamEnabled() {
			return false
		}
		if !clustered {
			return true
		}
		if !s.JetStreamIsCurrent() {
			return false
		}
		leader = leader || s.JetStreamIsLeader()
	}
	return leader
}

// URL is the client URLs of the running nodes, comma-separated, as
// `orbit serve --nats-url` takes them.
func (c *Cluster) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var urls []string
	for i, s := range c.servers {
		if s != nil {
			urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", c.ports[i]))
		}
	}
	return strings.Join(urls, ",")
}

// Nodes is how many nodes the cluster has, running or stopped.
func (c *Cluster) Nodes() int { return c.opts.Nodes }

// Stop shuts node i down, as a crash of that machine would, keeping its
// store directory for Restart.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	s := c.servers[i]
	c.servers[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts a stopped node again on its store directory and ports.
func (c *Cluster) Restart(i int) error {
	c.mu.Lock()
	running := c.servers[i] != nil
	c.mu.Unlock()
	if running {
		return nil
	}
	return c.start(i)
}

// Shutdown stops every node.
func (c *Cluster) Shutdown() {
	for i := range c.servers {
		c.Stop(i)
	}
}
