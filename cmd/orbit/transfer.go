package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	natsstore "github.com/orbit-sidecar/orbit/store/nats"
	"github.com/orbit-sidecar/orbit/store/transfer"
)

// orbit export and orbit import move everything a store holds into
// another store, of the same kind or not, through a file (or a pipe):
// store/transfer says what the file holds. Both refuse a store that a
// sidecar serves, since a store that changes while it is read or written
// would be moved inconsistently.

func init() {
	register("export", "write everything a store holds (instances, histories, timers, events, bundles, plugin values) to a file", cmdExport)
	register("import", "write an export into a store, such as a NATS cluster or a new data file", cmdImport)
}

// progressEvery is how often a long export or import prints where it is.
const progressEvery = 2 * time.Second

// storeFlags are --store, --data and --nats-url, which name a store.
type storeFlags struct {
	kind    *string
	data    *string
	natsURL *string
}

func addStoreFlags(fs *flag.FlagSet) *storeFlags {
	return &storeFlags{
		kind:    fs.String("store", string(storeBbolt), "store backend: bbolt (one file, one sidecar) or nats (NATS JetStream shared by many sidecars)"),
		data:    fs.String("data", "./data/orbit.db", "bbolt data file of --store bbolt"),
		natsURL: fs.String("nats-url", "", "NATS servers of --store nats, comma-separated (nats://host:4222,...)"),
	}
}

// check refuses an unknown store, or NATS without servers.
func (f *storeFlags) check() error {
	switch storeKind(*f.kind) {
	case storeBbolt:
		return nil
	case storeNATS:
		if *f.natsURL == "" {
			return errors.New("--store nats needs --nats-url (or ORBIT_NATS_URL)")
		}
		return nil
	}
	return fmt.Errorf("--store %q is not a store; use bbolt or nats", *f.kind)
}

// String names the store in messages: "bbolt data/orbit.db".
func (f *storeFlags) String() string {
	if storeKind(*f.kind) == storeNATS {
		return "nats " + *f.natsURL
	}
	return "bbolt " + *f.data
}

// open opens the store and makes sure no sidecar serves it. A bbolt file
// must exist unless create; a bbolt file a sidecar has open is refused
// by its lock, and a NATS stream whose work a sidecar takes is refused by
// asking the servers.
func (f *storeFlags) open(ctx context.Context, create bool, log *slog.Logger) (store.Store, error) {
	if storeKind(*f.kind) == storeNATS {
		st, err := natsstore.Open(ctx, natsstore.Options{URL: *f.natsURL, Name: "orbit-transfer", Logger: log})
		if err != nil {
			return nil, err
		}
		n, err := st.Serving(ctx)
		if err == nil && n > 0 {
			err = fmt.Errorf("a sidecar serves the store on %s (%d pulls for work are waiting): stop every sidecar that uses it first", *f.natsURL, n)
		}
		if err != nil {
			st.Close()
			return nil, err
		}
		return st, nil
	}
	if !create {
		if _, err := os.Stat(*f.data); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("data file %s does not exist", *f.data)
		}
	}
	st, err := bolt.Open(*f.data, bolt.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%w (stop the sidecar that serves it first)", err)
	}
	return st, nil
}

// transferProgress prints where a long export or import is, at most every
// progressEvery.
func transferProgress(stderr io.Writer, verb string) func(transfer.Counts, int64, int) {
	last := time.Now()
	return func(done transfer.Counts, bytes int64, total int) {
		if time.Since(last) < progressEvery {
			return
		}
		last = time.Now()
		pct := ""
		if total > 0 {
			pct = fmt.Sprintf(" (%d%%)", min(100, done.Instances*100/total))
		}
		fmt.Fprintf(stderr, "orbit: %s %d of %d instances%s, %s so far\n", verb, done.Instances, total, pct, sizeOf(bytes))
	}
}

// sizeOf writes a byte count for people.
func sizeOf(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func cmdExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("export", "[--store bbolt --data FILE | --store nats --nats-url URL] OUT  (OUT - is standard output)", stderr)
	sf := addStoreFlags(fs)
	lf := addLogFlags(fs)
	pos, code, ok := parseData(fs, args, 1, stderr, sf.check)
	if !ok {
		return code
	}
	out := pos[0]
	began := time.Now()
	ctx := context.Background()
	st, err := sf.open(ctx, false, lf.logger(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "orbit: export: %v\n", err)
		return 1
	}
	defer st.Close()
	opt := transfer.ExportOptions{Source: sf.String(), Progress: transferProgress(stderr, "exported")}
	var got transfer.Exported
	if out == "-" {
		got, err = transfer.Export(st, stdout, opt)
	} else {
		got, err = exportFile(st, out, opt)
	}
	if err != nil && !errors.Is(err, transfer.ErrDamaged) {
		fmt.Fprintf(stderr, "orbit: export from %s: %v\n", sf, err)
		return 1
	}
	fmt.Fprintf(stderr, "orbit: exported %s from %s to %s (%s) in %s\n",
		got.Counts, sf, out, sizeOf(got.Bytes), time.Since(began).Round(time.Millisecond))
	if err != nil {
		fmt.Fprintf(stderr, "orbit: export: %v; everything else was written\n", err)
		return 1
	}
	return 0
}

// exportFile writes the export beside path and renames it into place once
// it is whole and synced, so that path never holds part of one.
func exportFile(st store.Store, path string, opt transfer.ExportOptions) (transfer.Exported, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".partial-*")
	if err != nil {
		return transfer.Exported{}, err
	}
	defer os.Remove(tmp.Name())
	got, err := transfer.Export(st, tmp, opt)
	if err != nil && !errors.Is(err, transfer.ErrDamaged) {
		tmp.Close()
		return got, err
	}
	if serr := tmp.Sync(); serr != nil {
		tmp.Close()
		return got, fmt.Errorf("write %s: %w", path, serr)
	}
	if cerr := tmp.Close(); cerr != nil {
		return got, fmt.Errorf("write %s: %w", path, cerr)
	}
	if rerr := os.Rename(tmp.Name(), path); rerr != nil {
		return got, fmt.Errorf("write %s: %w", path, rerr)
	}
	return got, err
}

func cmdImport(args []string, _, stderr io.Writer) int {
	fs := newFlags("import", "[--store bbolt --data FILE | --store nats --nats-url URL] [--force] IN  (IN - is standard input)", stderr)
	sf := addStoreFlags(fs)
	force := fs.Bool("force", false, "write into a store that already holds something, such as the part of an interrupted import: "+
		"instances it holds identical are skipped, instances it holds otherwise are left alone and named")
	lf := addLogFlags(fs)
	pos, code, ok := parseData(fs, args, 1, stderr, sf.check)
	if !ok {
		return code
	}
	in := pos[0]
	began := time.Now()
	var r io.Reader = os.Stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			fmt.Fprintf(stderr, "orbit: import: %v\n", err)
			return 1
		}
		defer f.Close()
		// A file is checked whole before anything is written: one cut
		// short or damaged changes nothing in the store.
		if _, _, err := transfer.Check(f); err != nil {
			fmt.Fprintf(stderr, "orbit: import: %s: %v; nothing was written\n", in, err)
			return 1
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			fmt.Fprintf(stderr, "orbit: import: %v\n", err)
			return 1
		}
		r = f
	}
	ctx := context.Background()
	st, err := sf.open(ctx, true, lf.logger(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "orbit: import: %v\n", err)
		return 1
	}
	defer st.Close()
	holds, err := transfer.Empty(st)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: import: read %s: %v\n", sf, err)
		return 1
	}
	if holds != "" && !*force {
		fmt.Fprintf(stderr, "orbit: import: %s already holds %s; import fills an empty store. "+
			"If it holds an earlier import of this export that was interrupted, run again with --force: "+
			"instances that arrived whole are skipped and the rest are written\n", sf, holds)
		return 1
	}
	got, err := transfer.Import(ctx, r, st, transfer.ImportOptions{Merge: holds != "", Progress: transferProgress(stderr, "imported")})
	if err != nil && !errors.Is(err, transfer.ErrConflict) {
		fmt.Fprintf(stderr, "orbit: import into %s: %v\n", sf, err)
		if in == "-" {
			fmt.Fprintln(stderr, "orbit: what was written is whole per instance; run the import again with --force from a sound export to complete it")
		}
		return 1
	}
	skipped := ""
	if got.Skipped > 0 {
		skipped = fmt.Sprintf(" (%d instances were there already)", got.Skipped)
	}
	fmt.Fprintf(stderr, "orbit: imported %s from %s (%s) into %s in %s%s\n",
		got.Counts, in, sizeOf(got.Bytes), sf, time.Since(began).Round(time.Millisecond), skipped)
	if err != nil {
		fmt.Fprintf(stderr, "orbit: import: %v\n", err)
		return 1
	}
	return 0
}
