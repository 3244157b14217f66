package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// Quarantine (docs/execution.md): an instance whose step crashed or stalled
// the sidecar twice in a row is not resumed a third time.
//
// Open resumes every instance the store has as RUNNING: the process
// stopped during its step. Such a resume is counted in the record
// (store.Instance.Resumed) before the step runs again, and the instance's
// next checkpoint, the one its step makes, writes the count back to zero:
// the step path itself pays nothing. An instance Open finds counted
// maxResumes times ends FAILED with States.Quarantined instead.
//
// A crash stops every instance running at the time, not only the one that
// caused it. So that those are not set aside with it, an instance already
// resumed once without completing a step — a suspect — runs alone: Open
// resumes its suspects one after another, each once the one before has
// checkpointed, its driver has stopped, or suspectTurn has passed. Only the
// suspect whose step brings the sidecar down again is counted a second
// time.

// maxResumes is how many resumes without a completed step quarantine an
// instance.
const maxResumes = 2

// suspectTurn bounds how long a suspect's step runs alone before the next
// suspect is resumed beside it.
const suspectTurn = 30 * time.Second

// resumeStage is where a counted resume is (driver.resuming).
type resumeStage uint8

// The stages of a counted resume.
const (
	resumeNone     resumeStage = iota
	resumeCounting             // the checkpoint of the count is pending
	resumeStepping             // counted; the step's checkpoint is pending
)

// errAnswerLater tells handle that apply keeps a message's reply, to
// answer it later than the checkpoint of the message.
var errAnswerLater = errors.New("answered later")

// resumeRunning resumes the instances Open found RUNNING: at once, except
// the suspects, which a goroutine resumes one after another.
func (e *Engine) resumeRunning(ids []string) {
	var suspects []string
	for _, id := range ids {
		if in, err := e.store.Instance(id); err == nil && in.Resumed == maxResumes-1 {
			suspects = append(suspects, id)
			continue
		}
		e.post(id, message{kind: msgRecover})
	}
	if len(suspects) == 0 {
		return
	}
	e.mu.Lock()
	e.suspects = make(map[string]bool, len(suspects))
	for _, id := range suspects {
		e.suspects[id] = true
	}
	e.mu.Unlock()
	go func() {
		for _, id := range suspects {
			e.mu.Lock()
			delete(e.suspects, id)
			e.mu.Unlock()
			reply := make(chan error, 1)
			e.post(id, message{kind: msgRecover, reply: reply})
			turn := make(chan struct{})
			t := e.clock.AfterFunc(suspectTurn, func() { close(turn) })
			select {
			case <-reply:
			case <-turn:
				e.log.Warn("a suspect instance's step is still running; the next one is resumed beside it", "instance", id)
			}
			t.Stop()
		}
	}()
}

// recover counts a resume of the instance, or sets it aside at maxResumes.
// A reply is answered once the step after the resume has checkpointed.
func (d *driver) recover(m message) error {
	in := d.inst
	d.cancelOrphan()
	if in.Status != store.Running || d.resuming != resumeNone {
		return nil // it moved on since Open listed it
	}
	d.resumeReply, d.resuming = m.reply, resumeCounting
	if in.Resumed >= maxResumes {
		cause := fmt.Sprintf("resumed %d times without completing a step: the sidecar stopped during state %s each time; redrive runs it again",
			in.Resumed, in.State)
		in.Resumed = 0
		d.end(store.Failed, store.EventExecutionFailed, nil, &flow.Error{Name: flow.ErrQuarantined, Cause: cause})
		d.resuming = resumeStepping // the end's checkpoint answers
		d.e.log.Warn("instance quarantined", d.logArgs("resumed", maxResumes)...)
		return errAnswerLater
	}
	in.Resumed++
	d.touch()
	return errAnswerLater
}

// resumed follows a checkpoint of a counted resume: the count's, after
// which the next checkpoint writes it back to zero, or the step's, which
// answers the resume.
func (d *driver) resumed() {
	if d.resuming == resumeCounting {
		d.inst.Resumed = 0
		d.resuming = resumeStepping
		return
	}
	d.answerResume(nil)
}

func (d *driver) answerResume(err error) {
	if d.resuming != resumeNone {
		message{reply: d.resumeReply}.answer(err)
		d.resumeReply, d.resuming = nil, resumeNone
	}
}

// waitsItsTurn reports a suspect that another message woke before Open's
// turn for it came: it does not step until then.
func (d *driver) waitsItsTurn() bool {
	if d.inst == nil || d.inst.Resumed == 0 || d.inst.Status != store.Running || d.resuming != resumeNone {
		return false
	}
	d.e.mu.Lock()
	defer d.e.mu.Unlock()
	return d.e.suspects[d.id]
}
