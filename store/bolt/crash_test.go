package bolt

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/fault"
	"github.com/orbit-sidecar/orbit/store"
)

// The crash tests run a child process (this test binary again) that
// commits from several writers and prints each acknowledged commit, and
// kills itself with SIGKILL the n-th time it reaches a fault point of the
// log's commit path. The parent then opens the store the child left and
// checks what every crash must leave:
//
//   - every acknowledged batch is there (durability);
//   - every batch is there whole or not at all (atomicity): a writer's
//     record, its history and its kept event always agree;
//   - history has no gap: a writer's record says how many events it has,
//     and exactly those are there;
//   - the store takes new commits, and a clean close leaves no log.
const (
	crashEnvPath   = "ORBIT_CRASH_CHILD_PATH"
	crashEnvPoint  = "ORBIT_CRASH_CHILD_POINT"
	crashEnvHits   = "ORBIT_CRASH_CHILD_HITS"
	crashEnvCommit = "ORBIT_CRASH_CHILD_COMMIT"
	// crashEnvOneSegment keeps the log in one segment: one that grows as
	// it is written (the log syncs nothing: the kill keeps what was
	// written, and no spare is made), or, with crashEnvFullSize, a spare
	// that the child asks for and waits for before it commits (and a
	// first segment of one record, moved on from at the first commit).
	crashEnvOneSegment = "ORBIT_CRASH_CHILD_ONE_SEGMENT"
	crashEnvFullSize   = "ORBIT_CRASH_CHILD_FULL_SIZE"
	crashWriters       = 6
	crashBatches       = 400 // per writer, if the kill point is never reached
)

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvPath)
	if path == "" {
		t.Skip("run by the crash tests only")
	}
	point := fault.Point(os.Getenv(crashEnvPoint))
	hits, _ := strconv.Atoi(os.Getenv(crashEnvHits))
	var n atomic.Int64
	faultHook = func(p fault.Point) {
		if p == point && n.Add(1) == int64(hits) {
			// Stall here a moment first, so that whatever else runs
			// meanwhile (callers told of their commit, the applier or the
			// committer) gets as far as it can.
			time.Sleep(20 * time.Millisecond)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	opt := Options{}
	if os.Getenv(crashEnvOneSegment) == "" {
		segmentSize = 16 << 10 // rotate often
	} else if os.Getenv(crashEnvFullSize) == "" {
		opt.NoSync = true
	}
	db, err := Open(path, opt)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	if os.Getenv(crashEnvFullSize) != "" {
		db.spares.want()
		for deadline := time.Now().Add(time.Minute); !db.spares.haveSpare(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				fmt.Println("no spare log segment was made")
				os.Exit(3)
			}
		}
	}
	if os.Getenv(crashEnvCommit) == "" {
		db.Close()
		return
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			id := fmt.Sprintf("w%d", w)
			seq := uint64(0)
			if in, err := db.Instance(id); err == nil {
				seq = in.Seq
			}
			for range crashBatches {
				seq++
				if err := db.Commit(context.Background(), crashBatch(id, seq)); err != nil {
					fmt.Println("commit:", err)
					os.Exit(3)
				}
				out.Lock()
				fmt.Printf("ack %s %d\n", id, seq) // an unbuffered write: it survives the kill
				out.Unlock()
			}
		})
	}
	wg.Wait()
	db.Close()
}

// crashBatch is writer id's seq-th checkpoint: its record, one history
// event and one kept event, all numbered seq, and an instance of its own.
func crashBatch(id string, seq uint64) *store.Batch {
	data, _ := json.Marshal(map[string]any{"seq": seq, "pad": strings.Repeat("p", 200)})
	now := time.Now()
	in := &store.Instance{Public: store.Public{ID: id, Workflow: "wf", Status: store.Running, StartedAt: now, UpdatedAt: now},
		Data: data, Seq: seq}
	one := &store.Instance{Public: store.Public{ID: fmt.Sprintf("%s-%d", id, seq), Workflow: "wf", Status: store.Succeeded,
		StartedAt: now, UpdatedAt: now, EndedAt: &now}, Seq: 1}
	return &store.Batch{
		Instances:  []*store.Instance{in, one},
		Events:     []store.Event{{Instance: id, Seq: seq, Type: store.EventStateEntered, Time: now}},
		AddPending: []store.PendingEvent{{Instance: id, Name: "e" + strconv.FormatUint(seq, 10), Payload: json.RawMessage(`{}`)}},
	}
}

// crashChild runs the child until it exits or kills itself, and returns
// the highest acknowledged seq of each writer.
func crashChild(t *testing.T, path string, point fault.Point, hits int, commit bool) (acked map[string]uint64, killed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvPath+"="+path, crashEnvPoint+"="+string(point), crashEnvHits+"="+strconv.Itoa(hits))
	if commit {
		cmd.Env = append(cmd.Env, crashEnvCommit+"=1")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked = map[string]uint64{}
	var other []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var id string
		var seq uint64
		if _, err := fmt.Sscanf(sc.Text(), "ack %s %d", &id, &seq); err == nil {
			acked[id] = max(acked[id], seq)
		} else {
			other = append(other, sc.Text())
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return acked, true
		}
	}
	if err != nil || strings.Contains(strings.Join(other, "\n"), "FAIL") {
		t.Fatalf("child: %v\n%s\n%s", err, strings.Join(other, "\n"), stderr.String())
	}
	return acked, false
}

// checkCrashed opens what a crash left and checks the invariants above.
func checkCrashed(t *testing.T, path string, acked map[string]uint64) {
	t.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open after the crash: %v", err)
	}
	for w := range crashWriters {
		id := fmt.Sprintf("w%d", w)
		in, err := db.Instance(id)
		if errors.Is(err, store.ErrNotFound) && acked[id] == 0 {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if in.Seq < acked[id] {
			t.Errorf("%s: acknowledged checkpoint %d is lost; the record is at %d", id, acked[id], in.Seq)
		}
		var data struct{ Seq uint64 }
		if err := json.Unmarshal(in.Data, &data); err != nil || data.Seq != in.Seq {
			t.Errorf("%s: record at seq %d holds data of %d (%v)", id, in.Seq, data.Seq, err)
		}
		evs, err := db.History(id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(evs)) != in.Seq {
			t.Errorf("%s: record at seq %d, %d history events", id, in.Seq, len(evs))
		}
		for i, ev := range evs {
			if ev.Seq != uint64(i+1) {
				t.Errorf("%s: history event %d has seq %d", id, i, ev.Seq)
				break
			}
		}
		for seq := uint64(1); seq <= in.Seq+1; seq++ {
			_, err := db.Pending(id, "e"+strconv.FormatUint(seq, 10))
			_, ierr := db.Instance(fmt.Sprintf("%s-%d", id, seq))
			if want := seq <= in.Seq; (err == nil) != want || (ierr == nil) != want {
				t.Errorf("%s: batch %d (record at %d) is partly there: kept event %v, own instance %v", id, seq, in.Seq, err, ierr)
			}
		}
	}
	// The store goes on: a writer commits its next checkpoint.
	in, err := db.Instance("w0")
	next := uint64(1)
	if err == nil {
		next = in.Seq + 1
	}
	if err := db.Commit(context.Background(), crashBatch("w0", next)); err != nil {
		t.Errorf("commit after the crash: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if segs, _ := LogSegments(path); len(segs) != 0 {
		t.Errorf("a clean close left log segments %v", segs)
	}
}

// TestCrashAtEveryLogFaultPoint kills a committing child at each fault
// point of the commit path, early and late, and checks what it left.
func TestCrashAtEveryLogFaultPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, point := range []fault.Point{FaultLogWritten, FaultLogSynced, FaultSpareFilling, FaultSpareNamed, FaultRotated,
		FaultApplied, FaultCommitted, FaultSpareRecycled} {
		hitsAt := []int{1, 7}
		if point == FaultSpareFilling {
			hitsAt = hitsAt[:1] // a spare is filled only until the applier recycles segments
		}
		for _, hits := range hitsAt {
			t.Run(fmt.Sprintf("%s/%d", point, hits), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "orbit.db")
				acked, killed := crashChild(t, path, point, hits, true)
				if !killed {
					t.Fatalf("the child never reached %s %d times", point, hits)
				}
				checkCrashed(t, path, acked)
			})
		}
	}
}

// TestCrashDuringReplay leaves a log to replay, then kills the replaying
// process inside its transaction and after it, before the log is deleted:
// each later open finds the same store.
func TestCrashDuringReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "orbit.db")
	acked, killed := crashChild(t, path, FaultApplied, 3, true)
	if !killed {
		t.Fatal("the first child was not killed")
	}
	if segs, _ := LogSegments(path); len(segs) == 0 {
		t.Fatal("the crash left no log to replay")
	}
	for _, point := range []fault.Point{FaultApplied, FaultReplayed} {
		if _, killed := crashChild(t, path, point, 1, false); !killed {
			t.Fatalf("the replaying child did not reach %s", point)
		}
	}
	checkCrashed(t, path, acked)
}

// Kinds of log segment: one that grows as it is written, as a log without
// a spare writes it (and Orbit wrote before it kept spares), and one that
// was full-size before its first record.
const (
	growing  = "growing"
	fullSize = "full-size"
)

// crashedLog leaves a store whose log holds records the data file does not:
// the child is killed as its applier first starts a transaction. Its last
// segment is of the kind asked for. It returns the path, the last segment
// and what it holds.
func crashedLog(t *testing.T, kind string) (string, segment, segmentRead) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orbit.db")
	t.Setenv(crashEnvOneSegment, "1")
	if kind == fullSize {
		t.Setenv(crashEnvFullSize, "1")
	}
	if _, killed := crashChild(t, path, FaultApplied, 1, true); !killed {
		t.Fatal("the child was not killed")
	}
	segs, err := listSegments(path)
	if err != nil || len(segs) == 0 {
		t.Fatalf("no log left: %v", err)
	}
	last := segs[len(segs)-1]
	rd, err := readSegment(last.path, last.first)
	want := map[string]tail{growing: tailNone, fullSize: tailZeros}[kind]
	if err == nil && rd.tail == tailTorn {
		// The kill can stop the committer's write part way (the kernel
		// checks for it between pages): the tests that use this log make
		// their own damage, so the part written is cleared first.
		if kind == growing {
			err = os.Truncate(last.path, rd.end)
		} else {
			err = writeAt(last.path, rd.end, make([]byte, len(rd.data)-int(rd.end)))
		}
		if err == nil {
			rd, err = readSegment(last.path, last.first)
		}
	}
	if err != nil || rd.tail != want || len(rd.recs) < 2 {
		t.Fatalf("last segment: %d records, tail %d (want %d), %v", len(rd.recs), rd.tail, want, err)
	}
	return path, last, rd
}

func appliedLSN(t *testing.T, path string) uint64 {
	t.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	applied, _, err := readApplied(db.bolt)
	if err != nil {
		t.Fatal(err)
	}
	return applied
}

// TestTornLogTail damages the log's last record in a segment that grew
// and in one made full-size before it: cut short at the end of the file,
// cut short with zeros after it, or with a byte changed. Each time the
// record is detected, cut off and never applied, and every record before
// it is applied whole.
func TestTornLogTail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, kind := range []string{growing, fullSize} {
		for _, damage := range []string{"cut short", "cut short, then zeros", "checksum"} {
			t.Run(kind+"/"+damage, func(t *testing.T) {
				path, seg, rd := crashedLog(t, kind)
				lastLen := int64(frameLen + len(rd.recs[len(rd.recs)-1].body))
				torn := rd.end - lastLen/2
				var err error
				switch damage {
				case "cut short":
					err = os.Truncate(seg.path, torn)
				case "cut short, then zeros":
					err = writeAt(seg.path, torn, make([]byte, rd.end-torn))
				case "checksum":
					err = flipByte(seg.path, torn)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got, want := appliedLSN(t, path), rd.recs[len(rd.recs)-1].lsn-1; got != want {
					t.Errorf("applied up to record %d, want %d (all but the torn one)", got, want)
				}
				checkCrashed(t, path, nil)
			})
		}
	}
}

// TestDamagedLogBeforeItsEnd damages synced records: a segment that
// another follows, whose records then stop short of the next one's first,
// and the last segment, where a sound record follows the damaged one.
// That is no torn write, and Open refuses the store rather than drop them.
func TestDamagedLogBeforeItsEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, kind := range []string{growing, fullSize} {
		for _, where := range []string{"a later segment follows", "a later record follows"} {
			t.Run(kind+"/"+where, func(t *testing.T) {
				path, seg, rd := crashedLog(t, kind)
				// The first record's body: what follows it is sound.
				if err := flipByte(seg.path, frameLen+1); err != nil {
					t.Fatal(err)
				}
				want := "a later segment follows it"
				if where == "a later segment follows" {
					next := segmentPath(path, rd.recs[len(rd.recs)-1].lsn+1)
					if err := os.WriteFile(next, nil, 0o600); err != nil {
						t.Fatal(err)
					}
				} else {
					want = fmt.Sprintf("record %d follows later in it", rd.recs[1].lsn)
				}
				_, err := Open(path, Options{})
				if !errors.Is(err, ErrDamagedLog) || !strings.Contains(err.Error(), seg.path) || !strings.Contains(err.Error(), want) {
					t.Fatalf("open: %v, want ErrDamagedLog naming %s and saying %q", err, seg.path, want)
				}
			})
		}
	}
}

func writeAt(path string, off int64, b []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(b, off)
	return err
}

func flipByte(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	b[0] ^= 0x20
	_, err = f.WriteAt(b, off)
	return err
}
