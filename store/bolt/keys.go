package bolt

import (
	"bytes"
	"encoding/binary"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// bucketID names a top-level bucket; doc.go describes what each holds.
type bucketID int

const (
	bInstances bucketID = iota
	bUnfinished
	bList
	bEnded
	bHistory
	bTimers
	bInstanceTimers
	bPending
	bBundles
	bKV
	bMeta
	numBuckets
)

var bucketNames = [numBuckets][]byte{
	bInstances:      []byte("instances"),
	bUnfinished:     []byte("unfinished"),
	bList:           []byte("list"),
	bEnded:          []byte("ended"),
	bHistory:        []byte("history"),
	bTimers:         []byte("timers"),
	bInstanceTimers: []byte("instance_timers"),
	bPending:        []byte("pending"),
	bBundles:        []byte("bundles"),
	bKV:             []byte("kv"),
	bMeta:           []byte("meta"),
}

const (
	sep       = 0x00 // separates variable-length key parts
	headerLen = 16   // start and end nanos in front of an instance record
)

// empty is the value of index entries: bbolt keeps value slices until the
// transaction ends, so a shared, never-written slice costs nothing.
var empty = []byte{}

func appendHeader(dst []byte, start, end uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, start)
	return binary.BigEndian.AppendUint64(dst, end)
}

// parseHeader reads the times of an instance record; ok is false for a
// value too short to hold them.
func parseHeader(v []byte) (start, end uint64, ok bool) {
	if len(v) < headerLen {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), true
}

// appendListKey inverts the start time so that a forward cursor walks the
// newest instance first.
func appendListKey(dst []byte, start uint64, id string) []byte {
	dst = binary.BigEndian.AppendUint64(dst, ^start)
	return append(dst, id...)
}

func appendEndedKey(dst []byte, end uint64, id string) []byte {
	dst = binary.BigEndian.AppendUint64(dst, end)
	return append(dst, id...)
}

// appendPrefix is "id 0x00": the prefix of every history, pending and
// instance_timers key of one instance.
func appendPrefix(dst []byte, id string) []byte {
	dst = append(dst, id...)
	return append(dst, sep)
}

func appendHistoryKey(dst []byte, id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(appendPrefix(dst, id), seq)
}

func appendTimerKey(dst []byte, at uint64, instance, kind string) []byte {
	dst = binary.BigEndian.AppendUint64(dst, at)
	return append(appendPrefix(dst, instance), kind...)
}

func appendInstanceTimerKey(dst []byte, instance string, at uint64, kind string) []byte {
	dst = binary.BigEndian.AppendUint64(appendPrefix(dst, instance), at)
	return append(dst, kind...)
}

// parseTimerKey reads a timers key back into a Timer.
func parseTimerKey(k []byte) (store.Timer, bool) {
	if len(k) < 9 {
		return store.Timer{}, false
	}
	rest := k[8:]
	i := bytes.IndexByte(rest, sep)
	if i < 0 {
		return store.Timer{}, false
	}
	return store.Timer{
		At:       store.FromUnixNanos(binary.BigEndian.Uint64(k)),
		Instance: string(rest[:i]),
		Kind:     string(rest[i+1:]),
	}, true
}

// appendTimerKeyFromInstanceKey turns an instance_timers key (whose prefix,
// the instance, has prefixLen bytes) into the matching timers key.
func appendTimerKeyFromInstanceKey(dst, k []byte, prefixLen int) []byte {
	if len(k) < prefixLen+8 {
		return dst
	}
	dst = append(dst, k[prefixLen:prefixLen+8]...)
	dst = append(dst, k[:prefixLen]...)
	return append(dst, k[prefixLen+8:]...)
}

func appendPendingPrefix(dst []byte, instance, name string) []byte {
	return appendPrefix(appendPrefix(dst, instance), name)
}

func appendPendingKey(dst []byte, instance, name string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(appendPendingPrefix(dst, instance, name), seq)
}

// bucket opens a top-level bucket, which Open has created.
func bucket(tx *bbolt.Tx, id bucketID) *bbolt.Bucket { return tx.Bucket(bucketNames[id]) }
