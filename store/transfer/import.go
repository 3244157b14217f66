package transfer

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/orbit-sidecar/orbit/store"
)

// Limits of one batch Import writes: a group of at most groupInstances
// instances with at most about batchEvents entries (history events,
// timers, kept events) and batchBytes of payloads; a longer history is
// written ahead in batches of its own.
const (
	groupInstances = 64
	batchEvents    = 500
	batchBytes     = 4 << 20
)

// ImportOptions tune Import.
type ImportOptions struct {
	// Merge writes into a store that already holds something, such as
	// the part of an earlier import that was interrupted: an instance the
	// target holds identical is skipped, one it holds with other contents
	// is left as it is and reported (ErrConflict). Without Merge the
	// caller has made sure the target is empty (Empty).
	Merge bool
	// Progress, when set, is called after every instance written with
	// what was written so far, the bytes read so far, and the instances
	// the stream's header announces.
	Progress func(done Counts, bytes int64, total int)
	// Workers is how many instances are written at once (their commits
	// share group commits); 0 means 8.
	Workers int
}

// Imported is what Import read and did.
type Imported struct {
	Counts       // what the stream holds
	Bytes  int64 // its length
	// Skipped counts instances the target already held identical (Merge).
	Skipped int
	// Conflicts lists instances the target holds with other contents,
	// left as they are (Merge).
	Conflicts []string
}

// ErrConflict is returned by Import, after writing everything else, when
// the target held instances with other contents than the stream's.
var ErrConflict = errors.New("instances already in the target differ from the export's, and were left as they are")

// Import writes everything a stream of Export holds into dst. Every
// instance that had not ended is woken in the same write as its record,
// so that on a shared store some sidecar takes it up. A stream that
// turns out cut short or altered stops Import with an error naming the
// line; what it wrote up to there is whole per instance, and running the
// import again with a sound stream and Merge completes it.
func Import(ctx context.Context, r io.Reader, dst store.Store, opt ImportOptions) (Imported, error) {
	workers := opt.Workers
	if workers <= 0 {
		workers = 8
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	im := &importer{dst: dst, opt: opt}
	rd := newReader(r)
	jobs := make(chan []*line, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for group := range jobs {
				if ctx.Err() != nil {
					continue
				}
				if err := im.instances(ctx, group); err != nil {
					cancel(err)
					continue
				}
				for _, l := range group {
					im.done(l)
				}
			}
		})
	}
	err := im.feed(ctx, rd, jobs)
	close(jobs)
	wg.Wait()
	if cerr := context.Cause(ctx); err == nil && cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = cerr
	}
	if c, ok := dst.(store.Coordinator); ok && err == nil {
		err = im.restoreSlots(ctx, c)
	}
	out := Imported{Counts: rd.counts, Bytes: rd.bytes, Skipped: im.skipped, Conflicts: im.conflicts}
	if err == nil && len(out.Conflicts) > 0 {
		err = fmt.Errorf("%w: %d instances (%v)", ErrConflict, len(out.Conflicts), out.Conflicts)
	}
	return out, err
}

type importer struct {
	dst   store.Store
	opt   ImportOptions
	read  atomic.Int64 // bytes of the stream read so far
	total int          // instances the header announces

	mu        sync.Mutex
	written   Counts
	skipped   int
	conflicts []string
	slotted   []slotted // unfinished instances with a concurrency slot or queue place
}

// slotted is what restoreSlots needs of an instance, kept instead of its
// record so that a large import does not hold every record in memory.
type slotted struct {
	id    string
	key   store.SlotKey
	place store.SlotPlace
	seq   int64
}

// feed reads the stream, writes what is not an instance itself and hands
// instances to the workers in groups that make one batch each.
func (im *importer) feed(ctx context.Context, rd *reader, jobs chan<- []*line) error {
	var group []*line
	entries, bytes := 0, 0
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		select {
		case jobs <- group:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		group, entries, bytes = nil, 0, 0
		return nil
	}
	for {
		l, err := rd.next()
		im.read.Store(rd.bytes)
		if l != nil && l.Kind == kindHeader {
			im.total = l.Total // before any worker reads it
		}
		if errors.Is(err, io.EOF) {
			return flush()
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if l.Kind == kindInstance {
			group = append(group, l)
			entries += 1 + len(l.History) + 2*len(l.Timers) + len(l.Pending)
			bytes += size(l.History)
			if len(group) == groupInstances || entries >= batchEvents || bytes >= batchBytes {
				if err := flush(); err != nil {
					return err
				}
			}
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		switch l.Kind {
		case kindBundle:
			err = im.dst.Commit(ctx, &store.Batch{Bundles: []store.BundleSources{*l.Bundle}})
		case kindKV:
			err = im.dst.KVPut(l.NS, l.Key, l.Value)
		case kindTimer:
			err = im.dst.Commit(ctx, &store.Batch{SetTimers: l.Timers})
		case kindPending:
			err = im.dst.Commit(ctx, &store.Batch{AddPending: events(l.Pending)})
		}
		if err != nil {
			return fmt.Errorf("line %d: write %s: %w", rd.lineNo, l.Kind, err)
		}
		im.done(l)
	}
}

// done counts a line written (or skipped) and reports progress.
func (im *importer) done(l *line) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.written.add(l)
	if im.opt.Progress != nil && l.Kind == kindInstance {
		im.opt.Progress(im.written, im.read.Load(), im.total)
	}
}

// instances writes a group of instances in one batch: their histories,
// then their records with their timers and kept events, so that a
// record's arrival means its instance is whole. A history too long for
// the batch is written ahead of it in batches of its own.
func (im *importer) instances(ctx context.Context, group []*line) error {
	b := &store.Batch{}
	for _, l := range group {
		in := l.Instance
		found := absent
		if im.opt.Merge {
			var err error
			if found, err = im.present(in); err != nil {
				return err
			}
		}
		if found != conflicting && in.SlotPlace() != store.NoSlot {
			im.mu.Lock()
			im.slotted = append(im.slotted, slotted{id: in.ID, key: store.SlotKey{Workflow: in.Workflow, Key: in.ConcKey},
				place: in.SlotPlace(), seq: in.ConcSeq})
			im.mu.Unlock()
		}
		if found != absent {
			continue
		}
		history := l.History
		for len(history) > batchEvents || size(history) > batchBytes {
			n := chunk(history)
			if err := im.dst.Commit(ctx, &store.Batch{Events: history[:n]}); err != nil {
				return fmt.Errorf("write history of instance %q: %w", in.ID, err)
			}
			history = history[n:]
		}
		b.Instances = append(b.Instances, in)
		b.Events = append(b.Events, history...)
		b.SetTimers = append(b.SetTimers, l.Timers...)
		for _, p := range l.Pending {
			b.AddPending = append(b.AddPending, p.event())
		}
		if !in.Status.Terminal() {
			b.Wake = append(b.Wake, in.ID)
		}
	}
	if len(b.Instances) == 0 {
		return nil
	}
	if err := im.dst.Commit(ctx, b); err != nil {
		return fmt.Errorf("write instances %q to %q: %w", b.Instances[0].ID, b.Instances[len(b.Instances)-1].ID, err)
	}
	return nil
}

// presence is what a target that may hold an instance holds of it.
type presence int

const (
	absent      presence = iota // not there: it is written
	identical                   // there as the stream has it: skipped
	conflicting                 // there otherwise, or damaged: left alone and reported
)

// present reads what a target that may hold in holds of it: one the
// target holds identical is skipped, one it holds otherwise (or damaged)
// is a conflict, left alone.
func (im *importer) present(in *store.Instance) (presence, error) {
	cur, err := im.dst.Instance(in.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return absent, nil
	case err != nil && !errors.Is(err, store.ErrDamaged):
		return conflicting, fmt.Errorf("read instance %q in the target: %w", in.ID, err)
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	if err == nil && sameRecord(cur, in) {
		im.skipped++
		return identical, nil
	}
	im.conflicts = append(im.conflicts, in.ID)
	return conflicting, nil
}

// restoreSlots gives the imported instances their places in a shared
// store's concurrency slots, which a store of one sidecar does not keep
// (its engine counts them from the records when it opens): those that
// held a slot hold it again and the queued ones wait in their key's queue
// in the order they arrived (ConcSeq). The limit is the workflow's, which
// only the scripts know; here each key gets as many slots as it has
// holders (one at least), so that nothing queued is admitted before a
// holder ends, and the sidecars ask with the workflow's limit from then on.
// It may run again over the same instances (an import completed with
// Merge): one that has its place keeps it.
func (im *importer) restoreSlots(ctx context.Context, c store.Coordinator) error {
	byKey := map[store.SlotKey][]slotted{}
	for _, p := range im.slotted {
		byKey[p.key] = append(byKey[p.key], p)
	}
	for k, places := range byKey {
		// Holders first, then the queue in arrival order.
		slices.SortFunc(places, func(a, b slotted) int {
			return cmp.Or(cmp.Compare(a.place, b.place), cmp.Compare(a.seq, b.seq), cmp.Compare(a.id, b.id))
		})
		holders := 0
		for _, p := range places {
			if p.place == store.HoldsSlot {
				holders++
			}
		}
		for _, p := range places {
			if _, err := c.AcquireSlot(ctx, k, max(holders, 1), p.id); err != nil {
				return fmt.Errorf("concurrency slot of instance %q (workflow %s, key %q): %w", p.id, k.Workflow, k.Key, err)
			}
		}
	}
	return nil
}

// chunk is how many events from the start of evs make one batch.
func chunk(evs []store.Event) int {
	n, bytes := 0, 0
	for n < len(evs) && n < batchEvents {
		bytes += eventSize(&evs[n])
		if n > 0 && bytes > batchBytes {
			break
		}
		n++
	}
	return n
}

func size(evs []store.Event) int {
	n := 0
	for i := range evs {
		n += eventSize(&evs[i])
	}
	return n
}

func eventSize(ev *store.Event) int { return len(ev.Input) + len(ev.Output) + len(ev.Cause) + 256 }

func events(ps []pending) []store.PendingEvent {
	out := make([]store.PendingEvent, len(ps))
	for i, p := range ps {
		out[i] = p.event()
	}
	return out
}

// sameRecord reports whether two records are the same, as stored.
func sameRecord(a, b *store.Instance) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Empty reports what st holds, if anything, as a short description ("12
// instances, 1 bundle"); "" when it holds nothing. Import without Merge
// wants an empty target, so that it never overwrites what is there.
func Empty(st store.Store) (string, error) {
	tallies, err := st.Count(store.Query{})
	if err != nil {
		return "", fmt.Errorf("count instances: %w", err)
	}
	n := 0
	for _, t := range tallies {
		n += t.Count
	}
	if n > 0 {
		return fmt.Sprintf("%d instances", n), nil
	}
	bundles, err := st.Bundles()
	if err != nil {
		return "", fmt.Errorf("read bundles: %w", err)
	}
	if len(bundles) > 0 {
		return fmt.Sprintf("%d bundles", len(bundles)), nil
	}
	errSome := errors.New("some")
	some := func(what string, each func() error) (string, error) {
		switch err := each(); {
		case errors.Is(err, errSome):
			return what, nil
		case err != nil:
			return "", err
		}
		return "", nil
	}
	if what, err := some("timers", func() error {
		return st.Timers(func(store.Timer) error { return errSome })
	}); what != "" || err != nil {
		return what, err
	}
	d, ok := st.(store.Dumper)
	if !ok {
		return "", nil
	}
	if what, err := some("kept events", func() error {
		return d.EachPending(func(store.PendingEvent) error { return errSome })
	}); what != "" || err != nil {
		return what, err
	}
	return some("plugin values", func() error {
		return d.EachKV(func(string, string, []byte) error { return errSome })
	})
}
