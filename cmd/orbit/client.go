package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/orbit-sidecar/orbit/client"
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

// run calls the API through the Go client and prints the answer: the
// API's JSON as it came with --json, else through show. Errors go to
// stderr with the API's code; exit 1.
func (c *clientCmd) run(timeout time.Duration, call func(context.Context, *client.Client) (show func() error, err error)) int {
	api, tap := newAPIClient(*c.addr, *c.token, timeout)
	show, err := call(context.Background(), api)
	if err == nil && *c.asJSON {
		_, err = c.stdout.Write(tap.last)
	} else if err == nil {
		err = show()
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "orbit: %s\n", explain(err))
		return 1
	}
	return 0
}

const clientTimeout = 30 * time.Second

func cmdStart(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("start", "WORKFLOW [--input JSON|@file] [--id ID] [--version V] [--wait 30s]", stdout, stderr)
	input := c.fs.String("input", "", "instance input: JSON, or @file to read it from a file")
	id := c.fs.String("id", "", "idempotency key (any printable text; an instance id is one): repeating it with the same input answers the existing instance")
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
	return c.run(clientTimeout, func(ctx context.Context, api *client.Client) (func() error, error) {
		in, err := api.Start(ctx, c.pos[0], body, &client.StartOptions{ID: *id, Version: *version, Wait: *wait})
		return func() error { return writeInstance(stdout, in) }, err
	})
}

func cmdGet(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("get", "ID [--wait 30s]", stdout, stderr)
	wait := c.fs.Duration("wait", 0, "wait up to this long for the instance to end")
	if code, ok := c.parse(args, 1); !ok {
		return code
	}
	return c.run(clientTimeout, func(ctx context.Context, api *client.Client) (func() error, error) {
		var in *client.Instance
		var err error
		if *wait > 0 {
			in, err = api.Wait(ctx, c.pos[0], *wait)
		} else {
			in, err = api.Get(ctx, c.pos[0])
		}
		return func() error { return writeInstance(stdout, in) }, err
	})
}

func cmdHistory(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("history", "ID", stdout, stderr)
	if code, ok := c.parse(args, 1); !ok {
		return code
	}
	return c.run(clientTimeout, func(ctx context.Context, api *client.Client) (func() error, error) {
		evs, err := api.History(ctx, c.pos[0], nil)
		return func() error { return writeHistory(stdout, evs) }, err
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
	return c.run(clientTimeout, func(ctx context.Context, api *client.Client) (func() error, error) {
		if *wait > 0 {
			in, _, err := api.SendAndWait(ctx, id, event, body, *wait)
			return func() error { return writeInstance(stdout, in) }, err
		}
		d, err := api.Send(ctx, id, event, body)
		return func() error {
			if d.Delivery == client.Consumed {
				_, err = fmt.Fprintf(stdout, "event %s delivered to %s, which takes it now\n", event, id)
			} else {
				_, err = fmt.Fprintf(stdout, "event %s kept for %s until it awaits it\n", event, id)
			}
			return err
		}, err
	})
}

func cmdCancel(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("cancel", "ID", stdout, stderr)
	if code, ok := c.parse(args, 1); !ok {
		return code
	}
	id := c.pos[0]
	return c.run(clientTimeout, func(ctx context.Context, api *client.Client) (func() error, error) {
		_, err := api.Cancel(ctx, id)
		return func() error {
			_, err := fmt.Fprintf(stdout, "%s cancelled\n", id)
			return err
		}, err
	})
}

func cmdList(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("list", "[--workflow W] [--status S] [--key KEY] [--limit N] [--cursor C]", stdout, stderr)
	workflow := c.fs.String("workflow", "", "only instances of this workflow")
	status := c.fs.String("status", "", "only instances with this status (RUNNING, WAITING, SUCCEEDED, ...)")
	key := c.fs.String("key", "", "only the instance started with this idempotency key (start --id)")
	limit := c.fs.Int("limit", 0, "at most this many instances (default 100, or the cursor's)")
	cursor := c.fs.String("cursor", "", "the next page, as printed by a previous list")
	if code, ok := c.parse(args, 0); !ok {
		return code
	}
	return c.run(clientTimeout, func(ctx context.Context, api *client.Client) (func() error, error) {
		p, err := api.ListPage(ctx, &client.ListOptions{Workflow: *workflow, Status: client.Status(*status),
			IdempotencyKey: *key, Limit: *limit, Cursor: *cursor})
		return func() error { return writeList(stdout, p) }, err
	})
}
