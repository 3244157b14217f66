package nats_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"crypto/sha256"
	"encoding/hex"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/devnats"
	"github.com/orbit-sidecar/orbit/internal/devnats/devnatstest"
	"github.com/orbit-sidecar/orbit/store"
	natsstore "github.com/orbit-sidecar/orbit/store/nats"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

// streamFor names the stream a test path stands for: each path is its own
// stream, so the suite's tests run side by side and a reopened path finds
// its data again.
func streamFor(path string) string {
	sum := sha256.Sum256([]byte(path))
	return "T" + hex.EncodeToString(sum[:8])
}

// opener opens stores on c.
func opener(c devnats.Servers, replicas int) storetest.Opener {
	return func(t *testing.T, path string) store.Store {
		s, err := natsstore.Open(context.Background(), natsstore.Options{
			URL: c.URL(), Stream: streamFor(path), Replicas: replicas,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestConformanceOneNode(t *testing.T) {
	storetest.Run(t, opener(devnatstest.Start(t, 1), 1))
}

func TestConformanceThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster takes seconds to elect its leaders")
	}
	storetest.Run(t, opener(devnatstest.Start(t, 3), 3))
}

// TestDamagedRecord stores an undecodable record in place of one, with its
// index headers kept, as a faulty writer would.
func TestDamagedRecord(t *testing.T) {
	c := devnatstest.Start(t, 1)
	storetest.RunDamaged(t, opener(c, 1), func(t *testing.T, path, id string) {
		nc, err := natsgo.Connect(c.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		name := streamFor(path)
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		subject := name + ".x." + id + ".r"
		m, err := st.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		h := natsgo.Header{}
		for _, k := range []string{"Orbit-Status", "Orbit-Workflow", "Orbit-Version", "Orbit-Start", "Orbit-End"} {
			if v := m.Header.Get(k); v != "" {
				h.Set(k, v)
			}
		}
		if _, err := js.PublishMsg(ctx, &natsgo.Msg{Subject: subject, Header: h, Data: []byte(`{"id":`)}); err != nil {
			t.Fatal(err)
		}
	})
}

// clusterOpener opens n sidecars' stores on one stream of c.
func clusterOpener(c devnats.Servers, replicas int) storetest.ClusterOpener {
	return func(t *testing.T, path string, n int, ttl time.Duration) []storetest.Node {
		var nodes []storetest.Node
		for i := range n {
			s, err := natsstore.Open(context.Background(), natsstore.Options{
				URL: c.URL(), Stream: streamFor(path), Replicas: replicas,
				Node: fmt.Sprintf("sidecar-%d", i), LeaseTTL: ttl,
			})
			if err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, s)
		}
		return nodes
	}
}

func TestOwnershipOneNode(t *testing.T) {
	storetest.RunCluster(t, clusterOpener(devnatstest.Start(t, 1), 1))
}

func TestOwnershipThreeNodes(t *testing.T) {
	storetest.RunCluster(t, clusterOpener(devnatstest.Start(t, 3), 3))
}

// TestCallAcrossServers has a sidecar start serving on one server of a
// cluster and another call it at once through a different server, before
// the new subscription's interest may have reached that server.
func TestCallAcrossServers(t *testing.T) {
	c := devnatstest.Start(t, 3)
	urls := strings.Split(c.URL(), ",")
	open := func(url, node string) *natsstore.Store {
		s, err := natsstore.Open(context.Background(), natsstore.Options{
			URL: url, Stream: streamFor(t.Name()), Replicas: 3, Node: node,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	caller := open(urls[2], "caller")
	for i := range 10 {
		name := fmt.Sprintf("served-%d", i)
		served := open(urls[0], name)
		if err := served.Serve(func(req []byte) []byte { return append([]byte("got "), req...) }); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := caller.Call(ctx, name, []byte("x"))
		cancel()
		if err != nil || string(got) != "got x" {
			t.Fatalf("call %d right after Serve: %q, %v", i, got, err)
		}
	}
}
