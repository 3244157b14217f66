package bolt

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

const defaultLimit = 100

// List returns instances newest first, and the cursor of the next page (""
// at the end). The cursor is the list key of the page's last instance, so
// pages stay stable while new instances start.
func (db *DB) List(q store.Query) ([]*store.Instance, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	var seek []byte
	if q.Cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(after) < 8 {
			return nil, "", fmt.Errorf("invalid cursor %q: take next_cursor from a previous page", q.Cursor)
		}
		seek = append(after, sep) // the first key after it
	}
	var (
		out  []*store.Instance
		next string
	)
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		instances := bucket(tx, bInstances)
		c := bucket(tx, bList).Cursor()
		k, v := c.First()
		if seek != nil {
			k, v = c.Seek(seek)
		}
		var last []byte
		for ; k != nil; k, v = c.Next() {
			if !matches(v, q) {
				continue
			}
			if len(out) == limit {
				next = base64.RawURLEncoding.EncodeToString(last)
				return nil
			}
			in, err := loadInstance(instances, string(k[8:]))
			if err != nil {
				return err
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

// matches filters on the list value (status 0x00 workflow), without loading
// the record. A filter walks the index until it fills a page, which is
// cheap per entry but proportional to what it skips.
func matches(v []byte, q store.Query) bool {
	i := bytes.IndexByte(v, sep)
	if i < 0 {
		return false
	}
	return (q.Status == "" || string(v[:i]) == string(q.Status)) &&
		(q.Workflow == "" || string(v[i+1:]) == q.Workflow)
}
