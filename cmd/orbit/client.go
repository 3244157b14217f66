package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/store"
)

func init() {
	register("start", "start an instance on a running sidecar", cmdStart)
	register("get", "show an instance", cmdGet)
	register("history", "show an instance's history", cmdHistory)
	register("send", "deliver an event to an instance", cmdSend)
	register("cancel", "cancel an instance and its children", cmdCancel)
	register("list", "list instances, newest first", cmdList)
}

// clientCmd is what every client command shares: its flags, the parsed
// positional arguments and the output streams.
type clientCmd struct {
	fs             *flag.FlagSet
	addr, token    *string
	asJSON         *bool
	stdout, stderr io.Writer
	pos            []string
}

func newClientCmd(name, usage string, stdout, stderr io.Writer) *clientCmd {
	c := &clientCmd{fs: newFlags(name, usage, stderr), stdout: stdout, stderr: stderr}
	c.addr = c.fs.String("addr", "127.0.0.1:7077", "address of the sidecar's API (ORBIT_ADDR)")
	c.token = c.fs.String("token", "", "bearer token of the API (ORBIT_TOKEN)")
	c.asJSON = c.fs.Bool("json", false, "print the API's JSON answer as it is")
	return c
}

// parse reads the flags and environment and checks the number of
// positional arguments; ok=false carries the exit code.
func (c *clientCmd) parse(args []string, npos int) (code int, ok bool) {
	pos, code, ok := parse(c.fs, args)
	if !ok {
		return code, false
	}
	if len(pos) != npos {
		c.fs.Usage()
		return 2, false
	}
	if err := fromEnv(c.fs); err != nil {
		fmt.Fprintf(c.stderr, "orbit: %v\n", err)
		return 2, false
	}
	c.pos = pos
	return 0, true
}

// call runs one request and prints its answer: as JSON with --json, else
// through show. Errors go to stderr with the API's code; exit 1.
func (c *clientCmd) call(timeout time.Duration, method, path string, q url.Values, body []byte, show func([]byte) error) int {
	out, err := newAPIClient(*c.addr, *c.token, timeout).call(method, path, q, body)
	if err == nil && *c.asJSON {
		_, err = c.stdout.Write(out)
	} else if err == nil {
		err = show(out)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "orbit: %v\n", err)
		return 1
	}
	return 0
}

const clientTimeout = 30 * time.Second

func cmdStart(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("start", "WORKFLOW [--input JSON|@file] [--id ID] [--version V] [--wait 30s]", stdout, stderr)
	input := c.fs.String("input", "", "instance input: JSON, or @file to read it from a file")
	id := c.fs.String("id", "", "instance id; repeating it with the same input answers the existing instance")
	version := c.fs.String("version", "", "run the newest kept bundle whose workflow carries this version")
	wait := c.fs.Duration("wait", 0, "wait up to this long for the instance to end and print it")
	if code, ok := c.parse(args, 1); !ok {
		return code
	}
	body, err := readInput(*input)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 2
	}
	q := url.Values{}
	for k, v := range map[string]string{"id": *id, "version": *version} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *wait > 0 {
		q.Set("wait", wait.String())
	}
	return c.call(clientTimeout+*wait, "POST", "/v1/workflows/"+seg(c.pos[0])+"/instances", q, body, printInstance(stdout))
}

func cmdGet(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("get", "ID [--wait 30s]", stdout, stderr)
	wait := c.fs.Duration("wait", 0, "wait up to this long for the instance to end")
	if code, ok := c.parse(args, 1); !ok {
		return code
	}
	return c.call(clientTimeout+*wait, "GET", "/v1/instances/"+seg(c.pos[0]), waitQuery(*wait), nil, printInstance(stdout))
}

// waitQuery is the query of a request that waits for the instance's end
// (nil without a wait).
func waitQuery(wait time.Duration) url.Values {
	if wait <= 0 {
		return nil
	}
	return url.Values{"wait": {wait.String()}}
}

// printInstance shows an answer that is an instance.
func printInstance(stdout io.Writer) func([]byte) error {
	return func(out []byte) error {
		var p store.Public
		if err := json.Unmarshal(out, &p); err != nil {
			return err
		}
		return writeInstance(stdout, &p)
	}
}

func cmdHistory(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("history", "ID", stdout, stderr)
	if code, ok := c.parse(args, 1); !ok {
		return code
	}
	return c.call(clientTimeout, "GET", "/v1/instances/"+seg(c.pos[0])+"/history", nil, nil, func(out []byte) error {
		var h api.History
		if err := json.Unmarshal(out, &h); err != nil {
			return err
		}
		return writeHistory(stdout, h.Events)
	})
}

func cmdSend(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("send", "ID EVENT [--input JSON|@file] [--wait 30s]", stdout, stderr)
	input := c.fs.String("input", "", "event payload: JSON, or @file to read it from a file")
	wait := c.fs.Duration("wait", 0, "then wait up to this long for the instance to end and print it")
	if code, ok := c.parse(args, 2); !ok {
		return code
	}
	body, err := readInput(*input)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 2
	}
	id, event := c.pos[0], c.pos[1]
	path := "/v1/instances/" + seg(id) + "/events/" + seg(event)
	if *wait > 0 {
		return c.call(clientTimeout+*wait, "POST", path, waitQuery(*wait), body, printInstance(stdout))
	}
	return c.call(clientTimeout, "POST", path, nil, body, func(out []byte) error {
		var d api.Delivered
		if err := json.Unmarshal(out, &d); err != nil {
			return err
		}
		if d.Delivery == engine.Consumed {
			_, err = fmt.Fprintf(stdout, "event %s delivered to %s, which takes it now\n", event, id)
		} else {
			_, err = fmt.Fprintf(stdout, "event %s kept for %s until it awaits it\n", event, id)
		}
		return err
	})
}

func cmdCancel(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("cancel", "ID", stdout, stderr)
	if code, ok := c.parse(args, 1); !ok {
		return code
	}
	id := c.pos[0]
	return c.call(clientTimeout, "POST", "/v1/instances/"+seg(id)+"/cancel", nil, nil, func([]byte) error {
		_, err := fmt.Fprintf(stdout, "%s cancelled\n", id)
		return err
	})
}

func cmdList(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("list", "[--workflow W] [--status S] [--limit N] [--cursor C]", stdout, stderr)
	workflow := c.fs.String("workflow", "", "only instances of this workflow")
	status := c.fs.String("status", "", "only instances with this status (RUNNING, WAITING, SUCCEEDED, ...)")
	limit := c.fs.Int("limit", 100, "at most this many instances")
	cursor := c.fs.String("cursor", "", "the next page, as printed by a previous list")
	if code, ok := c.parse(args, 0); !ok {
		return code
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	for k, v := range map[string]string{"workflow": *workflow, "status": *status, "cursor": *cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return c.call(clientTimeout, "GET", "/v1/instances", q, nil, func(out []byte) error {
		var l api.List
		if err := json.Unmarshal(out, &l); err != nil {
			return err
		}
		return writeList(stdout, &l)
	})
}
