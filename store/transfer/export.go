package transfer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// pageSize is how many instances one List call of Export reads, and
// historyPage how many events one History call does.
const (
	pageSize    = 1000
	historyPage = 1000
	// historyReaders is how many histories Export reads at once.
	historyReaders = 16
)

// ExportOptions tune Export.
type ExportOptions struct {
	// Source describes the store in the header ("bbolt data/orbit.db").
	Source string
	// Progress, when set, is called after every instance written with
	// what was written so far, the bytes so far, and the instances the
	// source held when the export began.
	Progress func(done Counts, bytes int64, total int)
	// Now is the header's time; nil: time.Now.
	Now func() time.Time
}

// Exported is what Export wrote.
type Exported struct {
	Counts
	Bytes int64
	// Damaged says, for each instance whose record or history could not
	// be read, what is wrong (naming the instance): they, their history, timers and kept
	// events were left out, and Export returned ErrDamaged.
	Damaged []string
}

// ErrDamaged is returned by Export, after writing everything else, when
// records it could not read were left out (Exported.Damaged names them).
var ErrDamaged = errors.New("damaged records were left out")

// Export writes everything src holds to w as a stream Import reads. The
// source must not change meanwhile: a sidecar serving it would leave the
// stream inconsistent (callers make sure none is).
func Export(src store.Store, w io.Writer, opt ExportOptions) (Exported, error) {
	d, ok := src.(store.Dumper)
	if !ok {
		return Exported{}, fmt.Errorf("the %T store cannot list its kept events and plugin values", src)
	}
	x := &exporter{src: src, opt: opt, sum: sha256.New()}
	x.bw = bufio.NewWriterSize(io.MultiWriter(w, x.sum, &x.n), 256<<10)
	x.enc = json.NewEncoder(x.bw)
	x.enc.SetEscapeHTML(false)
	err := x.run(d)
	if ferr := x.bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write: %w", ferr)
	}
	x.out.Bytes = int64(x.n)
	if err == nil && len(x.out.Damaged) > 0 {
		err = fmt.Errorf("%w: %d instances (%s)", ErrDamaged, len(x.out.Damaged), strings.Join(x.out.Damaged, "; "))
	}
	return x.out, err
}

type exporter struct {
	src store.Store
	opt ExportOptions
	bw  *bufio.Writer
	enc *json.Encoder
	sum hash.Hash
	n   counter
	out Exported
}

// counter counts the bytes written through it.
type counter int64

func (c *counter) Write(p []byte) (int, error) {
	*c += counter(len(p))
	return len(p), nil
}

func (x *exporter) write(l *line) error {
	if err := x.enc.Encode(l); err != nil {
		return fmt.Errorf("write %s: %w", l.Kind, err)
	}
	x.out.add(l)
	return nil
}

func (x *exporter) run(d store.Dumper) error {
	tallies, err := x.src.Count(store.Query{})
	if err != nil {
		return fmt.Errorf("count instances: %w", err)
	}
	total := 0
	for _, t := range tallies {
		total += t.Count
	}
	// Timers and kept events are few beside instances and histories:
	// they are gathered first and written with their instance.
	timers := map[string][]store.Timer{}
	if err := x.src.Timers(func(t store.Timer) error {
		timers[t.Instance] = append(timers[t.Instance], t)
		return nil
	}); err != nil {
		return fmt.Errorf("read timers: %w", err)
	}
	kept := map[string][]pending{}
	if err := d.EachPending(func(p store.PendingEvent) error {
		kept[p.Instance] = append(kept[p.Instance], pendingOf(p))
		return nil
	}); err != nil {
		return fmt.Errorf("read kept events: %w", err)
	}

	now := time.Now
	if x.opt.Now != nil {
		now = x.opt.Now
	}
	created := now().UTC()
	if err := x.write(&line{Kind: kindHeader, Format: Format, Created: &created, Source: x.opt.Source, Total: total}); err != nil {
		return err
	}
	bundles, err := x.src.Bundles()
	if err != nil {
		return fmt.Errorf("read bundles: %w", err)
	}
	for i := range bundles {
		if err := x.write(&line{Kind: kindBundle, Bundle: &bundles[i]}); err != nil {
			return err
		}
	}
	if err := d.EachKV(func(ns, key string, value []byte) error {
		return x.write(&line{Kind: kindKV, NS: ns, Key: key, Value: value})
	}); err != nil {
		return fmt.Errorf("read plugin values: %w", err)
	}

	q := store.Query{Limit: pageSize}
	for {
		page, next, err := x.src.List(q)
		if err != nil {
			return fmt.Errorf("list instances: %w", err)
		}
		histories, errs := x.histories(page)
		for i, in := range page {
			if in.Damaged != "" {
				x.out.Damaged = append(x.out.Damaged, in.Damaged) // it names the instance
				delete(timers, in.ID)
				delete(kept, in.ID)
				continue
			}
			l := &line{Kind: kindInstance, Instance: in, Timers: timers[in.ID], Pending: kept[in.ID], History: histories[i]}
			delete(timers, in.ID)
			delete(kept, in.ID)
			var damaged *store.DamagedError
			if errors.As(errs[i], &damaged) {
				x.out.Damaged = append(x.out.Damaged, damaged.Error())
				continue
			}
			if errs[i] != nil {
				return errs[i]
			}
			if err := x.write(l); err != nil {
				return err
			}
			if x.opt.Progress != nil {
				x.opt.Progress(x.out.Counts, int64(x.n)+int64(x.bw.Buffered()), total)
			}
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}

	// What belongs to no kept instance is moved all the same.
	for _, id := range slices.Sorted(maps.Keys(timers)) {
		if err := x.write(&line{Kind: kindTimer, Timers: timers[id]}); err != nil {
			return err
		}
	}
	for _, id := range slices.Sorted(maps.Keys(kept)) {
		if err := x.write(&line{Kind: kindPending, Pending: kept[id]}); err != nil {
			return err
		}
	}
	if err := x.bw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	counts := x.out.Counts
	return x.write(&line{Kind: kindEnd, Counts: &counts, SHA256: hex.EncodeToString(x.sum.Sum(nil))})
}

// histories reads the whole histories of a page of instances, several at
// once: a shared store answers each read over the network.
func (x *exporter) histories(page []*store.Instance) ([][]store.Event, []error) {
	out := make([][]store.Event, len(page))
	errs := make([]error, len(page))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(historyReaders, len(page)) {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = x.history(page[i].ID)
			}
		})
	}
	for i, in := range page {
		if in.Damaged == "" {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	return out, errs
}

// history reads an instance's whole history, a page at a time.
func (x *exporter) history(id string) ([]store.Event, error) {
	var all []store.Event
	var after uint64
	for {
		evs, err := x.src.History(id, after, historyPage)
		if err != nil {
			return nil, fmt.Errorf("read history of instance %q: %w", id, err)
		}
		all = append(all, evs...)
		if len(evs) < historyPage {
			return all, nil
		}
		after = evs[len(evs)-1].Seq
	}
}
