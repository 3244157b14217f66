package bolt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/fault"
	"github.com/orbit-sidecar/orbit/store"
)

// testSegmentSize is the segment size of these tests: small enough that a
// few dozen commits rotate, large enough for several records.
const testSegmentSize = 64 << 10

func smallSegments(t *testing.T) {
	t.Helper()
	old := segmentSize
	segmentSize = testSegmentSize
	t.Cleanup(func() { segmentSize = old })
}

// countFaults counts the fault points reached while the test runs, and
// calls also (unless nil) at each, under the counter's lock.
func countFaults(t *testing.T, also func(fault.Point)) func(fault.Point) int {
	t.Helper()
	var mu sync.Mutex
	counts := map[fault.Point]int{}
	faultHook = func(p fault.Point) {
		mu.Lock()
		defer mu.Unlock()
		counts[p]++
		if also != nil {
			also(p)
		}
	}
	t.Cleanup(func() { faultHook = nil })
	return func(p fault.Point) int {
		mu.Lock()
		defer mu.Unlock()
		return counts[p]
	}
}

// namedBatch is a batch storing one running instance with the given id,
// encoded to as many bytes as any other of an id as long.
func namedBatch(id string) *store.Batch {
	now := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	return &store.Batch{Instances: []*store.Instance{{Public: store.Public{ID: id, Workflow: "wf", Status: store.Running,
		StartedAt: now, UpdatedAt: now}, Data: []byte(`{"pad":"` + strings.Repeat("p", 300) + `"}`)}}}
}

// logRecord frames a batch storing instance id as record lsn, as the
// committer does.
func logRecord(t *testing.T, lsn uint64, id string) []byte {
	t.Helper()
	j := getJob()
	defer putJob(j)
	if err := j.enc.encode(namedBatch(id)); err != nil {
		t.Fatal(err)
	}
	rec := appendBody(beginFrame(nil), []*job{j})
	finishFrame(rec, lsn)
	return rec
}

// logRecords frames records first, first+1, ... storing instances
// prefix-first, prefix-(first+1), ...
func logRecords(t *testing.T, first uint64, n int, prefix string) []byte {
	var out []byte
	for i := range uint64(n) {
		out = append(out, logRecord(t, first+i, fmt.Sprintf("%s-%d", prefix, first+i))...)
	}
	return out
}

// closedStore makes a store at a new path holding 300 applied commits (the
// first of them instance "base") and no log, and returns the path and the
// lsn its log goes on from: above 300.
func closedStore(t *testing.T) (string, uint64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orbit.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		id := "base"
		if i > 0 {
			id = fmt.Sprintf("base-%d", i)
		}
		if err := db.Commit(context.Background(), namedBatch(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, appliedLSN(t, path) + 1
}

// present reports which of ids the store at path holds after Open, and
// checks that a clean close then leaves no log and no spare.
func present(t *testing.T, path string, ids ...string) map[string]bool {
	t.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	got := map[string]bool{}
	for _, id := range ids {
		_, err := db.Instance(id)
		switch {
		case err == nil:
			got[id] = true
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("%s: %v", id, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if segs, _ := LogSegments(path); len(segs) != 0 {
		t.Errorf("a clean close left log segments %v", segs)
	}
	if _, err := os.Stat(sparePath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a clean close left the spare: %v", err)
	}
	return got
}

// TestReplayOfSegmentTails replays a last segment whose records are
// followed by what a full-size segment holds past them after a crash:
// nothing (a segment that grew), zeros (zero-filled), an older segment's
// records (recycled; they end where the new ones do, or in the middle of
// one), and a record cut short followed by zeros or by older records. The
// new records are applied, and nothing past them.
func TestReplayOfSegmentTails(t *testing.T) {
	for _, tc := range []struct {
		name string
		torn bool // a record cut short follows the sound ones
		tail string
		want tail
	}{
		{"none", false, "none", tailNone},
		{"zeros", false, "zeros", tailZeros},
		{"older records, aligned", false, "older aligned", tailOlder},
		{"older records, from the middle of one", false, "older shifted", tailTorn},
		{"torn record, then zeros", true, "zeros", tailTorn},
		{"torn record, then older records", true, "older aligned", tailTorn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, first := closedStore(t)
			const n = 3
			data := logRecords(t, first, n, "new")
			if tc.torn {
				rec := logRecord(t, first+n, fmt.Sprintf("new-%d", first+n))
				data = append(data, rec[:len(rec)/2]...)
			}
			switch tc.tail {
			case "zeros":
				data = append(data, make([]byte, testSegmentSize-len(data))...)
			case "older aligned", "older shifted":
				// What the file held as the segment it was before: records
				// older than the new segment (lsns 100-299, below the
				// first), of the same sizes as the new ones ("old-1xx" is
				// as long as "new-3xx"), or shifted by a byte.
				older := logRecords(t, 100, 200, "old")
				if tc.tail == "older shifted" {
					older = append([]byte{7}, older...)
				}
				data = append(data, older[len(data):]...)
			}
			seg := segmentPath(path, first)
			if err := os.WriteFile(seg, data, 0o600); err != nil {
				t.Fatal(err)
			}
			rd, err := readSegment(seg, first)
			if err != nil || len(rd.recs) != n || rd.tail != tc.want {
				t.Fatalf("read: %d records, tail %d, %v; want %d records, tail %d", len(rd.recs), rd.tail, err, n, tc.want)
			}
			ids := []string{"base", fmt.Sprintf("new-%d", first+n), "old-150", "old-299"}
			for i := range uint64(n) {
				ids = append(ids, fmt.Sprintf("new-%d", first+i))
			}
			got := present(t, path, ids...)
			for _, id := range ids {
				want := id == "base" || strings.HasPrefix(id, "new-") && id != fmt.Sprintf("new-%d", first+n)
				if got[id] != want {
					t.Errorf("%s: present %v, want %v", id, got[id], want)
				}
			}
		})
	}
}

// TestReplayRefusesDamageBeforeSyncedEnd damages synced records in
// full-size segments: a record of the last segment that a sound record
// follows, and a segment whose records stop short of the next segment's
// first. Open refuses the store (ErrDamagedLog) and leaves the log as it
// is; a gap below the applied records is no damage.
func TestReplayRefusesDamageBeforeSyncedEnd(t *testing.T) {
	fill := func(b []byte) []byte { return append(b, make([]byte, testSegmentSize-len(b))...) }
	t.Run("a later record follows", func(t *testing.T) {
		path, first := closedStore(t)
		data := logRecords(t, first, 5, "new")
		recLen := len(data) / 5
		data[2*recLen+frameLen+3] ^= 0x20 // the body of the third record
		seg := segmentPath(path, first)
		if err := os.WriteFile(seg, fill(data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path, Options{})
		if want := fmt.Sprintf("record %d follows later in it", first+3); !errors.Is(err, ErrDamagedLog) || !strings.Contains(err.Error(), want) {
			t.Fatalf("open: %v, want ErrDamagedLog saying %q", err, want)
		}
		if segs, _ := LogSegments(path); len(segs) != 1 {
			t.Errorf("the refused log is not left as it was: %v", segs)
		}
	})
	t.Run("a later segment follows", func(t *testing.T) {
		path, first := closedStore(t)
		// The first segment's records end at first+1, the next starts at
		// first+3: record first+2 is missing.
		if err := os.WriteFile(segmentPath(path, first), fill(logRecords(t, first, 2, "new")), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(segmentPath(path, first+3), fill(logRecords(t, first+3, 2, "new")), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path, Options{})
		if !errors.Is(err, ErrDamagedLog) || !strings.Contains(err.Error(), "a later segment follows it") {
			t.Fatalf("open: %v, want ErrDamagedLog", err)
		}
	})
	t.Run("a gap below the applied records", func(t *testing.T) {
		path, first := closedStore(t)
		// A segment of an applied record that a crash did not get to
		// delete, though it deleted the next one: records first-2 and
		// first-1 are gone, but the data file holds them.
		if err := os.WriteFile(segmentPath(path, first-3), fill(logRecords(t, first-3, 1, "applied")), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(segmentPath(path, first), fill(logRecords(t, first, 2, "new")), 0o600); err != nil {
			t.Fatal(err)
		}
		got := present(t, path, fmt.Sprintf("new-%d", first+1), fmt.Sprintf("applied-%d", first-3))
		if !got[fmt.Sprintf("new-%d", first+1)] || got[fmt.Sprintf("applied-%d", first-3)] {
			t.Errorf("present: %v; want the new record only (the applied one is skipped)", got)
		}
	})
}

// TestSegmentsAreFullSizeBeforeTheirRecords commits through many
// rotations with the log synced: once the first spare is made, every
// segment the committer appends to was full-size before its first record;
// spares come from recycled segments rather than new zero-filled files; a
// record larger than a segment extends its file; and the store reopens
// with every commit, leaving neither log nor spare after a clean close.
func TestSegmentsAreFullSizeBeforeTheirRecords(t *testing.T) {
	smallSegments(t)
	path := filepath.Join(t.TempDir(), "orbit.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The size of each segment's file when it took its first record, seen
	// from the committer as it is about to append.
	sizes := map[string]int64{}
	var statErr error
	count := countFaults(t, func(p fault.Point) {
		if p != FaultLogWritten {
			return
		}
		seg := db.wal.seg.path
		if _, seen := sizes[seg]; !seen {
			fi, err := os.Stat(seg)
			statErr = errors.Join(statErr, err)
			if err == nil {
				sizes[seg] = fi.Size()
			}
		}
	})
	ctx := context.Background()
	var ids []string
	commit := func(b *store.Batch, id string) {
		t.Helper()
		if err := db.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for i := range 2000 {
		id := fmt.Sprintf("i-%d", i)
		if i == 1000 {
			// A record over twice a segment.
			big := namedBatch(id)
			big.Instances[0].Data = []byte(`{"pad":"` + strings.Repeat("b", 2*testSegmentSize) + `"}`)
			commit(big, id)
			continue
		}
		commit(namedBatch(id), id)
		if i%50 == 0 {
			// The applier's window passes now and then, so that full
			// segments are applied and recycled as under load.
			db.Flush()
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if statErr != nil {
		t.Fatal(statErr)
	}
	fills, recycled := count(FaultSpareFilling), count(FaultSpareRecycled)
	if fills == 0 || fills > 3 || recycled < 5 {
		t.Errorf("%d spares zero-filled, %d recycled; want one to three filled and the rest recycled", fills, recycled)
	}
	grew := 0
	for seg, size := range sizes {
		if size < testSegmentSize {
			grew++
			t.Logf("segment %s started at %d bytes", seg, size)
		}
	}
	// The first segment grows until a spare is ready; so may one after
	// the big record, if its recycled segment is not back yet.
	if grew > 3 || len(sizes) < 10 {
		t.Errorf("%d of %d segments grew as they were written", grew, len(sizes))
	}
	got := present(t, path, ids...)
	if len(got) != len(ids) {
		t.Errorf("%d of %d commits found after reopening", len(got), len(ids))
	}
}

// TestASpareIsNoPartOfTheStore leaves a spare segment beside a closed
// store, as a crash may: it holds nothing of the store, so verify does not
// warn of a log and an offline backup takes the file alone; the next Open
// deletes it.
func TestASpareIsNoPartOfTheStore(t *testing.T) {
	path, first := closedStore(t)
	// A recycled segment's bytes: records the data file holds.
	if err := os.WriteFile(sparePath(path), logRecords(t, first-2, 2, "old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if segs, err := LogSegments(path); err != nil || len(segs) != 0 {
		t.Fatalf("log segments %v (%v): the spare is listed as one", segs, err)
	}
	rep, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.File.Warnings) != 0 {
		t.Errorf("verify warns of a spare: %q", rep.File.Warnings)
	}
	if _, err := Backup(path, filepath.Join(t.TempDir(), "copy.db")); err != nil {
		t.Errorf("offline backup beside a spare: %v", err)
	}
	got := present(t, path, "base", fmt.Sprintf("old-%d", first-1))
	if !got["base"] {
		t.Errorf("present: %v", got)
	}
}

// TestAFailedSpareIsNotRetriedAtEveryCommit makes every zero-fill of a
// spare fail (a directory stands at its name, as a full disk would fail
// it) while the first segment grows: the keeper tries once, not again at
// each commit, which on a full disk would take the room the commits need
// each time.
func TestAFailedSpareIsNotRetriedAtEveryCommit(t *testing.T) {
	smallSegments(t)
	path := filepath.Join(t.TempDir(), "orbit.db")
	var logs strings.Builder
	db, err := Open(path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(sparePath(path), "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	count := countFaults(t, nil)
	// About 45 KiB of records: past the size at which the keeper is asked
	// for a spare, short of a rotation.
	for i := range 100 {
		if err := db.Commit(context.Background(), namedBatch(fmt.Sprintf("i-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(FaultRotated); n != 0 {
		t.Fatalf("%d rotations; the test wants the first segment only", n)
	}
	if n := strings.Count(logs.String(), "cannot prepare a spare log segment"); n != 1 {
		t.Errorf("the keeper tried %d times to make a spare; want once:\n%s", n, logs.String())
	}
}
