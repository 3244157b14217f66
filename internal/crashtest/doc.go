// Package crashtest is Orbit's crash test: it runs the real orbit binary,
// kills it with SIGKILL many times while a few hundred workflow instances
// run, restarts it each time, and then checks that nothing was lost,
// nothing ended wrong and no task ran under two idempotency keys.
//
// The binary is a fault build (internal/fault, build.go): at a random moment
// of each run it may be killed by the test's timer, by its own fault point
// inside a commit of the target's store, or by the downstream service in the
// middle of a call, before or after answering it. The downstream
// (downstream.go) records every call with its Idempotency-Key and the visit
// it belongs to, answers 503 to the first calls of some keys, and checks
// that the concurrency workflow never has two instances of a key inside.
// The clients (run.go) start instances until a start is answered, send
// some starts again with the same id, and deliver events before and after
// the awaits that take them.
//
// When the kills are done, the sidecar runs until every instance has
// ended, is killed once more, and the checks (check.go) read what the
// restarted sidecar and the downstream hold:
//
//   - every instance that was started ends exactly once, with the status,
//     error and output it must have;
//   - every history's sequence numbers run 1, 2, 3, ... and end with its
//     one terminal event;
//   - every task visit ran under one Idempotency-Key, instance/state/visit,
//     and no key served two visits;
//   - nothing is left unended with nothing to happen;
//   - no two instances of a concurrency key ran their critical section
//     together, nobody started an instance twice, and the sidecar never
//     stopped by itself.
//
// A Target (target.go) is a store or commit path under test; another one
// joins with its serve arguments and its fault points, and runs the same
// workload and checks. TestCrash is the entry point (docs/guarantees.md).
package crashtest
