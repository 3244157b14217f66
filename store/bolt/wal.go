package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The write-ahead log. Each group commit is one record appended to the
// current segment file and synced once; the applier writes the records into
// bbolt later and deletes a segment once bbolt holds all of its records
// durably. A record is
//
//	length  uint32  bytes of body (little-endian, like the rest of the frame)
//	crc     uint32  CRC-32C of lsn and body
//	lsn     uint64  log sequence number: the previous record's plus one
//	body    []byte  the group's batches (walcodec.go)
//
// Segments are named "<data file>.wal.<first lsn as 16 hex digits>", so
// their names sort in log order and say where each starts. A segment is
// usually full-size (segmentSize) before its first record is written
// (spare.go): its records end where they stop following on from its first
// lsn, and zeros or a recycled file's older records may follow them.
const (
	frameLen = 16
	// maxRecord bounds one record, so that a damaged length cannot make a
	// replay allocate without bound. A group is at most maxGroupBytes of
	// encoded batches plus their framing.
	maxRecord = 2*maxGroupBytes + 1<<20
	walSuffix = ".wal."
)

// segmentSize is the size past which the committer starts a new segment:
// the bound on what one segment holds when the applier deletes it, and on
// what a replay reads after a crash. Crash tests lower it.
var segmentSize int64 = 8 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrDamagedLog is returned by Open when the log's records stop before
// the end of what was synced: a segment's records do not run on into the
// next segment's first, or a sound record follows a damaged one. A torn
// write can only be at the end of the log, so damage before it is damage
// to synced data.
var ErrDamagedLog = errors.New("the write-ahead log is damaged")

// segment is one log file.
type segment struct {
	path  string
	first uint64 // lsn of its first record
	last  uint64 // lsn of its last record (first-1 while empty)
	size  int64  // bytes of its records, once the committer moved on from it
}

func segmentPath(data string, first uint64) string {
	return fmt.Sprintf("%s%s%016x", data, walSuffix, first)
}

// LogSegments lists the write-ahead log segments of the data file at path
// in log order. A store that was closed has none; a store that crashed may
// have some, which the next Open applies.
func LogSegments(path string) ([]string, error) {
	segs, err := listSegments(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s.path
	}
	return out, nil
}

func listSegments(data string) ([]segment, error) {
	dir, base := filepath.Split(data)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list log segments of %s: %w", data, err)
	}
	var segs []segment
	for _, e := range entries {
		hex, ok := strings.CutPrefix(e.Name(), base+walSuffix)
		if !ok || len(hex) != 16 || e.IsDir() {
			continue
		}
		first, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, segment{path: filepath.Join(dir, e.Name()), first: first, last: first - 1})
	}
	slices.SortFunc(segs, func(a, b segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, nil
}

// beginFrame appends room for a record's frame, which finishFrame fills in
// once the body follows it.
func beginFrame(dst []byte) []byte { return append(dst, make([]byte, frameLen)...) }

// finishFrame fills in the frame of the record lsn whose body follows it.
func finishFrame(rec []byte, lsn uint64) {
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(rec)-frameLen))
	binary.LittleEndian.PutUint64(rec[8:], lsn)
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:], crcTable))
}

// record is one record read back from a segment.
type record struct {
	lsn  uint64
	body []byte
}

// tail says what follows the sound records of a segment.
type tail uint8

const (
	// tailNone: the file ends where its records do (a segment that grew
	// as it was written).
	tailNone tail = iota
	// tailZeros: zeros, the unused part of a segment that was zero-filled
	// before its first record.
	tailZeros
	// tailOlder: a sound record older than the segment, the unused part of
	// a recycled segment whose earlier records end where the new ones do.
	tailOlder
	// tailTorn: anything else: a record cut short or damaged by a crash,
	// or the middle of an older record in a recycled segment.
	tailTorn
)

// segmentRead is what readSegment found in a segment.
type segmentRead struct {
	data []byte
	recs []record
	end  int64 // offset where the sound records end
	tail tail
}

// last is the lsn of the segment's last sound record (first-1 if none).
func (r *segmentRead) last(first uint64) uint64 { return first + uint64(len(r.recs)) - 1 }

// readSegment returns the sound records of a segment, in order, the offset
// where they end and what follows them. Reading stops at the first record
// that is cut short, fails its checksum or does not follow its
// predecessor. A segment may be longer than its records (made full-size
// before they were written): the end of its records is where they stop
// following on from its first lsn, whatever lies past it.
func readSegment(path string, first uint64) (segmentRead, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return segmentRead{}, fmt.Errorf("read log segment %s: %w", path, err)
	}
	r := segmentRead{data: data}
	off := 0
	next := first
	for {
		rec, ok := recordAt(data, off)
		if !ok || rec.lsn != next {
			break
		}
		r.recs = append(r.recs, rec)
		off += frameLen + len(rec.body)
		next++
	}
	r.end = int64(off)
	rest := data[off:]
	switch rec, ok := recordAt(data, off); {
	case len(rest) == 0:
		r.tail = tailNone
	case allZero(rest):
		r.tail = tailZeros
	case ok && rec.lsn < first:
		r.tail = tailOlder
	default:
		r.tail = tailTorn
	}
	return r, nil
}

// recordAt reads the record framed at off, if a sound one is there.
func recordAt(data []byte, off int) (record, bool) {
	if len(data)-off < frameLen {
		return record{}, false
	}
	h := data[off : off+frameLen]
	n := int(binary.LittleEndian.Uint32(h[0:]))
	if n > maxRecord || len(data)-off-frameLen < n {
		return record{}, false
	}
	if crc32.Checksum(data[off+8:off+frameLen+n], crcTable) != binary.LittleEndian.Uint32(h[4:]) {
		return record{}, false
	}
	return record{lsn: binary.LittleEndian.Uint64(h[8:]), body: data[off+frameLen : off+frameLen+n]}, true
}

// laterRecord looks past the end of a segment's sound records for a sound
// record that follows on from them (lsn next or higher) and returns its
// lsn, or 0 if there is none. The committer writes a record only after the
// one before it is synced, and what lies past the records of a segment made
// full-size is zeros or records older than the segment: a later record
// there means the end is damage to synced records, not a torn write.
func (r *segmentRead) laterRecord(next uint64) uint64 {
	data := r.data
	for p := int(r.end); p+frameLen <= len(data); p++ {
		lsn := binary.LittleEndian.Uint64(data[p+8:])
		// A segment of n bytes holds fewer than n records: most positions
		// fail here without a checksum.
		if lsn < next || lsn-next > uint64(len(data)) {
			continue
		}
		if rec, ok := recordAt(data, p); ok {
			return rec.lsn
		}
	}
	return 0
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// logFile is the segment the committer appends to. It belongs to the
// committer goroutine.
type logFile struct {
	f    *os.File
	seg  segment
	size int64 // bytes of its records: where the next one is written
	sync bool
	// full is set while the file was full-size before its records were
	// written (a spare, spare.go), so that an append within segmentSize
	// does not grow it.
	full   bool
	broken error // set when a failed record could not be cut off again
}

// createSegment makes a new, empty segment whose first record is first and
// makes its directory entry durable, so that a record synced into it is
// found after a crash. It grows as records are appended; the committer
// prefers a spare (spare.go) and makes one only when none is ready.
func createSegment(data string, first uint64, sync bool) (*logFile, error) {
	path := segmentPath(data, first)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create log segment: %w", err)
	}
	if sync {
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			os.Remove(path)
			return nil, err
		}
	}
	return &logFile{f: f, seg: segment{path: path, first: first, last: first - 1}, sync: sync}, nil
}

// append writes one framed record (or several) after the last one and
// syncs the file once. A failed write or sync is cut off again, so that
// the next record does not follow garbage (the file is then no longer
// full-size); if even that fails, the log is unusable and the error says
// so.
func (l *logFile) append(frames []byte, last uint64) (synced bool, err error) {
	if l.broken != nil {
		return false, l.broken
	}
	n, err := l.f.WriteAt(frames, l.size)
	if err == nil && l.sync {
		err = fdatasync(l.f)
		synced = true
	}
	if err != nil {
		if n > 0 {
			l.full = false
			if terr := l.f.Truncate(l.size); terr != nil {
				l.broken = fmt.Errorf("log segment %s: a failed append (%v) could not be cut off (%w); "+
					"the store takes no more writes until it is reopened", l.seg.path, err, terr)
				return synced, l.broken
			}
		}
		return synced, fmt.Errorf("append to log segment %s: %w", l.seg.path, err)
	}
	l.size += int64(n)
	l.seg.last = last
	return synced, nil
}

func (l *logFile) close() error { return l.f.Close() }
