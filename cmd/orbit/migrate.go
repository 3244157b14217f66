package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/orbit-sidecar/orbit/client"
)

func init() {
	register("migrate", "move waiting instances to another version of their workflow", cmdMigrate)
}

// migrateTimeout bounds a whole workflow's migration, which moves its
// instances one after another.
const migrateTimeout = 5 * time.Minute

// cmdMigrate moves every waiting instance of a workflow (--workflow) or one
// instance (--id) to version --to, printing a line per instance and a
// summary. With --dry-run nothing moves: the lines say what would. A real
// run where some instance could not move exits 1.
func cmdMigrate(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("migrate", "(--workflow W | --id ID) --to VERSION [--dry-run]", stdout, stderr)
	workflow := c.fs.String("workflow", "", "migrate every waiting instance of this workflow")
	id := c.fs.String("id", "", "migrate this one instance")
	to := c.fs.String("to", "", "the version to move to, as a start's --version names it")
	dryRun := c.fs.Bool("dry-run", false, "change nothing; report for each instance whether it would move and why not")
	if code, ok := c.parse(args, 0); !ok {
		return code
	}
	if *to == "" || (*workflow == "") == (*id == "") {
		fmt.Fprintln(stderr, "orbit: migrate needs --to and one of --workflow or --id")
		c.fs.Usage()
		return 2
	}
	api, tap := newAPIClient(*c.addr, *c.token, migrateTimeout)
	ctx, opts := context.Background(), &client.MigrateOptions{DryRun: *dryRun}
	var ms []client.Migration
	var err error
	if *id != "" {
		var m *client.Migration
		if m, err = api.Migrate(ctx, *id, *to, opts); err == nil {
			ms = append(ms, *m)
		}
	} else {
		ms, err = api.MigrateWorkflow(ctx, *workflow, *to, opts)
	}
	if err == nil && *c.asJSON {
		_, err = stdout.Write(tap.last)
	} else if err == nil {
		err = writeMigrations(stdout, ms, *dryRun)
	}
	if err != nil {
		fmt.Fprintf(stderr, "orbit: %s\n", explain(err))
		return 1
	}
	for _, m := range ms {
		if !m.Moved && !*dryRun { // a dry run forecasts; it fails nothing
			return 1
		}
	}
	return 0
}

// writeMigrations prints one instance a line — its versions, the state it
// moves to, and whether it moved (would move) or why it cannot — then how
// many did.
func writeMigrations(w io.Writer, ms []client.Migration, dryRun bool) error {
	if len(ms) == 0 {
		_, err := fmt.Fprintln(w, "no waiting instances to migrate")
		return err
	}
	verb := "moved"
	if dryRun {
		verb = "would move"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tVERSION\tSTATE\tRESULT")
	moved := 0
	for _, m := range ms {
		result := verb
		if m.Moved || m.WouldMove {
			moved++
		} else {
			result = "cannot: " + m.Reason
		}
		fmt.Fprintf(tw, "%s\t%s → %s\t%s\t%s\n", m.Instance, shortVersion(m.FromVersion), shortVersion(m.ToVersion), m.State, result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	prefix := ""
	if dryRun {
		prefix = "dry run: "
	}
	_, err := fmt.Fprintf(w, "%s%d of %d %s, %d cannot\n", prefix, moved, len(ms), verb, len(ms)-moved)
	return err
}
