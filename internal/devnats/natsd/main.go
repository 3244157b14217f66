// Command natsd runs a devnats cluster in a process of its own, for tests
// built with the race detector: servers instrumented by it run ten times
// slower. It prints "ready URL" once the cluster serves, then obeys lines
// on its standard input ("stop N", "start N"), answering "ok URL" or
// "error TEXT", and exits when its input closes, so it never outlives the
// test that started it.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/orbit-sidecar/orbit/internal/devnats"
)

func main() {
	dir := flag.String("dir", "", "directory for the nodes' stores")
	nodes := flag.Int("nodes", 1, "how many nodes")
	syncAlways := flag.Bool("sync-always", false, "fsync every write")
	flag.Parse()
	c, err := devnats.Start(devnats.Options{Dir: *dir, Nodes: *nodes, SyncAlways: *syncAlways})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	defer c.Shutdown()
	fmt.Println("ready", c.URL())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		verb, arg, _ := strings.Cut(strings.TrimSpace(in.Text()), " ")
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n >= c.Nodes() {
			fmt.Println("error bad node", arg)
			continue
		}
		switch verb {
		case "stop":
			c.Stop(n)
		case "start":
			err = c.Restart(n)
		default:
			err = fmt.Errorf("unknown command %q", verb)
		}
		if err != nil {
			fmt.Println("error", err)
			continue
		}
		fmt.Println("ok", c.URL())
	}
}
