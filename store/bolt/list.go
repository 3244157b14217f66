package bolt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

const defaultLimit = 100

// List returns instances newest first, and the cursor of the next page (""
// at the end). The cursor is the list key of the page's last instance, so
// pages stay stable while new instances start.
func (db *DB) List(q store.Query) ([]*store.Instance, string, error) {
	db.caughtUp()
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	var seek []byte
	if q.Cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(after) < 8 {
			return nil, "", fmt.Errorf("%w %q: take next_cursor from a previous page", store.ErrBadCursor, q.Cursor)
		}
		seek = append(after, sep) // the first key after it
	}
	var (
		out  []*store.Instance
		next string
	)
	err := db.view(func(tx *bbolt.Tx) error {
		instances := bucket(tx, bInstances)
		c := bucket(tx, bList).Cursor()
		k, v := c.First()
		if seek != nil {
			k, v = c.Seek(seek)
		}
		var last []byte
		for ; k != nil; k, v = c.Next() {
			e, ok := db.listEntry(k, v)
			if !ok || !e.matches(&q) {
				continue
			}
			var in *store.Instance
			if !e.hasVersion && q.Version != "" {
				var err error
				if in, err = db.loadListed(instances, k, e); err != nil {
					return err
				}
				if in.Version != q.Version {
					continue
				}
			}
			if len(out) == limit {
				next = base64.RawURLEncoding.EncodeToString(last)
				return nil
			}
			if in == nil {
				var err error
				if in, err = db.loadListed(instances, k, e); err != nil {
					return err
				}
			}
			out = append(out, in)
			last = k
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// countChunk is how many listing entries one read transaction of Count
// walks: a long read transaction would hold up a writer that must grow
// the file.
const countChunk = 8192

// Count counts the instances q selects by workflow, version and status,
// from the listing index alone (the records of entries written before the
// index held versions are read for theirs).
func (db *DB) Count(q store.Query) ([]store.Tally, error) {
	db.caughtUp()
	idx := map[string]int{} // status 0x00 workflow 0x00 version -> index in out
	var out []store.Tally
	var seek, group []byte
	for more := true; more; {
		more = false
		err := db.viewReleasing(func(tx *bbolt.Tx) error {
			instances := bucket(tx, bInstances)
			c := bucket(tx, bList).Cursor()
			k, v := c.First()
			if seek != nil {
				k, v = c.Seek(seek)
			}
			for n := 0; k != nil; k, v = c.Next() {
				if n == countChunk {
					seek, more = append(seek[:0], k...), true
					return nil
				}
				n++
				e, ok := db.listEntry(k, v)
				if !ok || !e.matches(&q) {
					continue
				}
				if !e.hasVersion {
					in, err := db.loadListed(instances, k, e)
					if err != nil {
						return err
					}
					if q.Version != "" && in.Version != q.Version {
						continue
					}
					e.version = []byte(in.Version)
				}
				group = append(append(append(append(append(group[:0], e.status...), sep), e.workflow...), sep), e.version...)
				i, ok := idx[string(group)]
				if !ok {
					i = len(out)
					idx[string(group)] = i
					out = append(out, store.Tally{Workflow: string(e.workflow), Version: string(e.version),
						Status: store.Status(e.status)})
				}
				out[i].Count++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	store.SortTallies(out)
	return out, nil
}

var sepBytes = []byte{sep}

// listEntry is one entry of the listing index, its parts pointing into the
// key and value.
type listEntry struct {
	id                        []byte
	status, workflow, version []byte
	// hasVersion is false for entries written before the value held the
	// version.
	hasVersion bool
}

// listEntry parses an entry of the listing index; one too short to hold
// an id is skipped (and logged): it can only come from a damaged file.
func (db *DB) listEntry(k, v []byte) (listEntry, bool) {
	if len(k) <= 8 {
		db.log.Warn("listing entry without an instance id skipped; the data file is damaged", "key", fmt.Sprintf("%x", k))
		return listEntry{}, false
	}
	return parseListEntry(k, v), true
}

// loadListed reads the record of listing entry k, e; a damaged record
// becomes a store.DamagedStub of what the entry holds, so that one bad
// record hides nothing else.
func (db *DB) loadListed(instances *bbolt.Bucket, k []byte, e listEntry) (*store.Instance, error) {
	in, err := loadInstance(instances, string(e.id))
	if !errors.Is(err, store.ErrDamaged) {
		return in, err
	}
	db.log.Warn("instance record is damaged; listed as a stub", "instance", string(e.id), "err", err)
	return store.DamagedStub(store.Public{ID: string(e.id), Workflow: string(e.workflow), Version: string(e.version),
		Status: store.Status(e.status), StartedAt: store.FromUnixNanos(^binary.BigEndian.Uint64(k))}, err), nil
}

// parseListEntry splits a listing key (^start ns + id) and value (status
// 0x00 workflow 0x00 version, or status 0x00 workflow in older files).
func parseListEntry(k, v []byte) listEntry {
	e := listEntry{id: k[8:]}
	status, rest, ok := bytes.Cut(v, sepBytes)
	if !ok {
		return e
	}
	e.status = status
	e.workflow, e.version, e.hasVersion = bytes.Cut(rest, sepBytes)
	return e
}

// matches applies the filters that the entry alone can answer; a version
// filter on an entry without a version is left to the caller. A filter
// walks the index until it fills a page, which is cheap per entry but
// proportional to what it skips.
func (e *listEntry) matches(q *store.Query) bool {
	return (q.Status == "" || string(e.status) == string(q.Status)) &&
		(q.Workflow == "" || string(e.workflow) == q.Workflow) &&
		(q.Version == "" || !e.hasVersion || string(e.version) == q.Version) &&
		(q.IDContains == "" || bytes.Contains(e.id, []byte(q.IDContains)))
}
