package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/orbit-sidecar/orbit/client"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

func init() {
	register("verify", "check a data file's pages, records and history chains", cmdVerify)
	register("backup", "copy a data file, or a serving sidecar's store, consistently", cmdBackup)
	register("compact", "shrink a data file that no sidecar is serving", cmdCompact)
	register("restore", "put a backup in place as a data file, once it verifies", cmdRestore)
}

// dataFlag adds --data, read from ORBIT_DATA when not given, as serve's.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", "./data/orbit.db", "bbolt data file (ORBIT_DATA)")
}

// verified is the line that says what a verified file holds.
func verified(path string, r *bolt.VerifyReport) string {
	return fmt.Sprintf("%s: %d bytes, %d pages of %d bytes (transaction %d); %d instances, %d history events "+
		"(%d hashed, in %d chains), %d kept events, %d timers, %d bundles",
		path, r.File.Size, r.File.Pages, r.File.PageSize, r.File.Txid,
		r.Instances, r.Events, r.Hashed, r.Chains, r.Pending, r.Timers, r.Bundles)
}

func cmdVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("verify", "[--data FILE]", stderr)
	data := dataFlag(fs)
	if _, code, ok := parseData(fs, args, 0, stderr); !ok {
		return code
	}
	rep, err := bolt.Verify(*data)
	if err != nil {
		fmt.Fprintf(stderr, "orbit verify: %v\n", err)
		return 1
	}
	for _, w := range rep.File.Warnings {
		fmt.Fprintf(stderr, "orbit verify: warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "ok: %s\n", verified(*data, rep))
	return 0
}

func cmdBackup(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("backup", "(--data FILE | --addr URL [--token TOKEN]) OUT", stderr)
	data := fs.String("data", "", "bbolt data file that no sidecar is serving")
	addr := fs.String("addr", "", "address of a serving sidecar's API, to back up its store while it serves")
	token := fs.String("token", "", "bearer token of the API (ORBIT_TOKEN)")
	timeout := fs.Duration("timeout", 30*time.Minute, "how long an online backup may take")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 || (*data == "") == (*addr == "") {
		fmt.Fprintln(stderr, "orbit backup: name the store with either --data or --addr, and the copy to write")
		fs.Usage()
		return 2
	}
	if err := fromEnv(fs, "token"); err != nil {
		fmt.Fprintf(stderr, "orbit: %v\n", err)
		return 2
	}
	out := pos[0]
	var (
		rep *bolt.VerifyReport
		err error
	)
	if *data != "" {
		rep, err = bolt.Backup(*data, out)
	} else {
		c := client.New(*addr, client.WithToken(*token), client.WithTimeout(*timeout))
		rep, err = bolt.WriteFile(out, false, func(w io.Writer) error {
			_, err := c.Backup(context.Background(), w)
			return err
		})
	}
	if err != nil {
		fmt.Fprintf(stderr, "orbit backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ok: backup verified: %s\n", verified(out, rep))
	return 0
}

func cmdCompact(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("compact", "[--data FILE]", stderr)
	data := dataFlag(fs)
	if _, code, ok := parseData(fs, args, 0, stderr); !ok {
		return code
	}
	before, after, err := bolt.Compact(*data)
	if err != nil {
		fmt.Fprintf(stderr, "orbit compact: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %s compacted from %d to %d bytes\n", *data, before, after)
	return 0
}

func cmdRestore(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("restore", "IN [--data FILE] [--force]", stderr)
	data := dataFlag(fs)
	force := fs.Bool("force", false, "replace an existing data file (never one a sidecar is serving)")
	pos, code, ok := parseData(fs, args, 1, stderr)
	if !ok {
		return code
	}
	rep, err := bolt.Restore(pos[0], *data, *force)
	if err != nil {
		fmt.Fprintf(stderr, "orbit restore: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ok: restored %s as %s\n", pos[0], verified(*data, rep))
	return 0
}
