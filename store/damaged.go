package store

import (
	"errors"
	"fmt"
)

// ErrDamaged is returned, inside a *DamagedError, when a stored record
// cannot be decoded: the bytes on disk are not what the store wrote. It is
// never the caller's fault, and retrying does not help.
var ErrDamaged = errors.New("damaged record")

// DamagedError is a stored record that cannot be read back. Instance names
// the instance it belongs to ("" for records of no instance, such as a
// bundle); Record says which record it is ("instance", "event 7",
// "bundle 1a2b…").
type DamagedError struct {
	Instance string
	Record   string
	Err      error
}

func (e *DamagedError) Error() string {
	if e.Instance == "" {
		return fmt.Sprintf("stored %s is damaged: %v", e.Record, e.Err)
	}
	if e.Record == "instance" {
		return fmt.Sprintf("stored record of instance %q is damaged: %v", e.Instance, e.Err)
	}
	return fmt.Sprintf("stored %s of instance %q is damaged: %v", e.Record, e.Instance, e.Err)
}

// Is makes errors.Is(err, ErrDamaged) hold.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// Unwrap returns the decoding error.
func (e *DamagedError) Unwrap() error { return e.Err }

// DamagedStub is what List returns in place of an instance whose record is
// damaged: what the list index keeps apart from the record (id, workflow,
// version, status, start time; updated_at is the start time, the only one
// known), and Damaged saying what is wrong. A stub keeps pages full and
// cursors stable, and shows the operator that the instance exists.
func DamagedStub(known Public, err error) *Instance {
	known.UpdatedAt, known.Damaged = known.StartedAt, err.Error()
	return &Instance{Public: known}
}
