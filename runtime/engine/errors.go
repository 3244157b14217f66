package engine

import "errors"

// The errors the engine returns, each named by when it is returned. Calls
// wrap them with context, so compare with errors.Is. An instance that does
// not exist is store.ErrNotFound, passed through from the store. The API
// maps every one of them to a status in runtime/api/errors.go; an error
// that none of them wraps is the engine's or the store's fault (a 500).
var (
	// ErrUnknownWorkflow is returned by Start, Migrate and MigrateWorkflow
	// when no loaded or kept bundle has the workflow, or none labels it
	// with the version asked for.
	ErrUnknownWorkflow = errors.New("unknown workflow")

	// ErrConflict is returned by Start when an instance with the id exists
	// with another workflow or another input.
	ErrConflict = errors.New("an instance with this id exists with another input")

	// ErrEnded is returned by Send, Cancel and Pause when the instance has
	// ended.
	ErrEnded = errors.New("instance has ended")

	// ErrNotEnded is returned by Redrive when the instance is not FAILED or
	// TIMED_OUT (as last checkpointed when the redrive arrives).
	ErrNotEnded = errors.New("instance has not failed or timed out")

	// ErrNotPaused is returned by Resume when the instance is not paused.
	ErrNotPaused = errors.New("instance is not paused")

	// ErrPayloadTooLarge is returned by Start and Send when the input or the
	// event payload is over Config.MaxPayload.
	ErrPayloadTooLarge = errors.New("payload too large")

	// ErrBadID is returned by Start (and CheckID) when a client-chosen id
	// is not 1 to 128 of [A-Za-z0-9._:-].
	ErrBadID = errors.New("bad instance id")

	// ErrBadInput is returned by Start when the input is not JSON Orbit can
	// carry or the workflow's concurrency key does not resolve on it, by
	// Send when the payload is not such JSON or the event name is empty or
	// holds a zero byte, and by TestState when the test is not one the
	// state can run (its JSON, its mock, a name found in several machines).
	ErrBadInput = errors.New("bad input")

	// ErrUnknownState is returned by TestState when the workflow has no
	// state of the name.
	ErrUnknownState = errors.New("unknown state")

	// ErrNotAwaitable is returned by Send and Deliver for an event that
	// the instance's workflow version can never await: no await state of
	// its own, of its branches, map iterators or called workflows has that
	// name. The message names the events it can await.
	ErrNotAwaitable = errors.New("unknown event")

	// ErrTooManyEvents is returned by Send when the instance already keeps
	// Config.MaxPendingEvents events it does not await yet, or the event
	// would take their payloads over Config.MaxPendingBytes.
	ErrTooManyEvents = errors.New("too many events kept for the instance")

	// ErrCannotMigrate is returned by Migrate when the instance cannot move
	// to the version; the Migration says why.
	ErrCannotMigrate = errors.New("cannot migrate")

	// ErrUnavailable is returned while the store cannot write (Ready says
	// so too) by every call that needs a write: Start, Send, Cancel, Pause,
	// Resume, Redrive and Migrate; by a Start or Send whose own write
	// failed; and, with the store's error, to callers whose change could
	// not be checkpointed before the engine closed. Nothing was changed;
	// try again later.
	ErrUnavailable = errors.New("the store cannot write now")

	// ErrClosed is returned by every call that would start or change work
	// once Close has begun, and to callers whose messages were still
	// queued then.
	ErrClosed = errors.New("engine is closed")
)
