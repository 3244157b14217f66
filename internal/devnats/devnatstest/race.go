//go:build race

package devnatstest

const raceEnabled = true
