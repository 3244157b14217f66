package engine

import "github.com/orbit-sidecar/orbit/store"

// ClaimWaits counts the starts waiting now for another start of their id.
func ClaimWaits(e *Engine) int64 { return e.claimWaits.Load() }

// TimerWindow is how many timers the queue reads from the store at once.
const TimerWindow = timerWindow

// HeldTimers counts the timers the engine holds in memory.
func HeldTimers(e *Engine) int { return e.timers.held() }

// held counts the timers the queue holds in memory.
func (q *timerQueue) held() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.h)
}

// InFlightTimers counts the timers that fired and whose removal the engine
// still awaits.
func InFlightTimers(e *Engine) int {
	e.timers.mu.Lock()
	defer e.timers.mu.Unlock()
	return len(e.timers.inFlight)
}

// Driven reports whether the instance has a driver now.
func Driven(e *Engine, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.owners[id] != nil
}

// ReadTimerWindow reads the first window of timers from the store again,
// under the queue's lock, as the queue reads each next window: every
// timer's instance is looked up.
func ReadTimerWindow(e *Engine) error {
	q := e.timers
	q.mu.Lock()
	defer q.mu.Unlock()
	q.loaded = store.Timer{}
	return q.readWindow()
}
