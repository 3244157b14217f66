package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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
// their names sort in log order and say where each starts.
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

// ErrDamagedLog is returned by Open when a log segment other than the last
// one does not read to its end: a torn write can only be at the end of the
// log, so damage before it is damage to synced data.
var ErrDamagedLog = errors.New("the write-ahead log is damaged")

// segment is one log file.
type segment struct {
	path  string
	first uint64 // lsn of its first record
	last  uint64 // lsn of its last record (first-1 while empty)
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

// readSegment returns the sound records of a segment, in order, and the
// offset where they end. Reading stops at the first record that is cut
// short, fails its checksum or does not follow its predecessor: torn is
// true when anything is left after the sound records.
func readSegment(path string, first uint64) (recs []record, end int64, torn bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, false, fmt.Errorf("read log segment %s: %w", path, err)
	}
	off := 0
	next := first
	for off < len(data) {
		if len(data)-off < frameLen {
			return recs, int64(off), true, nil
		}
		h := data[off : off+frameLen]
		n := int(binary.LittleEndian.Uint32(h[0:]))
		lsn := binary.LittleEndian.Uint64(h[8:])
		if n > maxRecord || len(data)-off-frameLen < n || lsn != next {
			return recs, int64(off), true, nil
		}
		if crc32.Checksum(data[off+8:off+frameLen+n], crcTable) != binary.LittleEndian.Uint32(h[4:]) {
			return recs, int64(off), true, nil
		}
		recs = append(recs, record{lsn: lsn, body: data[off+frameLen : off+frameLen+n]})
		off += frameLen + n
		next++
	}
	return recs, int64(off), false, nil
}

// logFile is the segment the committer appends to. It belongs to the
// committer goroutine.
type logFile struct {
	f      *os.File
	seg    segment
	size   int64
	sync   bool
	broken error // set when a failed record could not be cut off again
}

// createSegment makes a new, empty segment whose first record is first and
// makes its directory entry durable, so that a record synced into it is
// found after a crash.
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

// append writes one framed record (or several) and syncs the file once. A
// failed write or sync is cut off again, so that the next record does not
// follow garbage; if even that fails, the log is unusable and the error
// says so.
func (l *logFile) append(frames []byte, last uint64) (synced bool, err error) {
	if l.broken != nil {
		return false, l.broken
	}
	n, err := l.f.Write(frames)
	if err == nil && l.sync {
		err = fdatasync(l.f)
		synced = true
	}
	if err != nil {
		if n > 0 {
			terr := l.f.Truncate(l.size)
			if terr == nil {
				_, terr = l.f.Seek(l.size, io.SeekStart)
			}
			if terr != nil {
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
