package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"github.com/orbit-sidecar/orbit/internal/devnats"
)

func init() {
	register("devcluster", "run a 3-node NATS cluster and N sidecars sharing it, in one process, to try the scale-out mode", cmdDevcluster)
}

// cmdDevcluster starts NATS servers on loopback and sidecars that serve
// the same scripts from the store they share, each on its own port.
// Arguments after "--" go to every sidecar's serve.
func cmdDevcluster(args []string, stdout, stderr io.Writer) int {
	var serveArgs []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, serveArgs = args[:i], args[i+1:]
	}
	fs := newFlags("devcluster", "[flags] [-- serve flags for every sidecar]", stderr)
	sidecars := fs.Int("sidecars", 3, "sidecars to run (0: only the NATS cluster)")
	nodes := fs.Int("nodes", 3, "NATS servers in the cluster")
	listen := fs.String("listen", "127.0.0.1:7077", "API address of the first sidecar; the others take the ports after it (port 0: each an OS-chosen port, named in its startup line)")
	dir := fs.String("dir", "./data/devcluster", "directory of the NATS servers' data and the sidecars' caches")
	syncAlways := fs.Bool("sync-always", false, "make the NATS servers fsync every write (sync_interval: always) instead of every two minutes")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 0 || *sidecars < 0 || *nodes < 1 {
		fs.Usage()
		return 2
	}
	host, portText, err := net.SplitHostPort(*listen)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil {
		fmt.Fprintf(stderr, "orbit: --listen %q is not host:port\n", *listen)
		return 2
	}
	// Signals end the sidecars (each serve watches them) and then the
	// servers; catching them here keeps the process alive meanwhile.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

	c, err := devnats.Start(devnats.Options{Dir: filepath.Join(*dir, "nats"), Nodes: *nodes, SyncAlways: *syncAlways})
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 1
	}
	defer c.Shutdown()
	fmt.Fprintf(stdout, "orbit: NATS cluster of %d nodes at %s\n", *nodes, c.URL())

	if *sidecars == 0 {
		<-sig
		return 0
	}
	var wg sync.WaitGroup
	codes := make([]int, *sidecars)
	for i := range *sidecars {
		addr := net.JoinHostPort(host, strconv.Itoa(port+i))
		if port == 0 {
			addr = net.JoinHostPort(host, "0")
		}
		a := []string{"--store", string(storeNATS), "--nats-url", c.URL(),
			"--listen", addr,
			"--data", filepath.Join(*dir, fmt.Sprintf("sidecar%d", i), "orbit.db")}
		a = append(a, serveArgs...)
		if port == 0 {
			fmt.Fprintf(stdout, "orbit: sidecar %d on a port of its own (see its startup line)\n", i)
		} else {
			fmt.Fprintf(stdout, "orbit: sidecar %d on %s\n", i, addr)
		}
		wg.Go(func() { codes[i] = cmdServe(a, stdout, stderr) })
	}
	wg.Wait()
	for _, code := range codes {
		if code != 0 {
			return code
		}
	}
	return 0
}
