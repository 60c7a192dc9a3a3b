//go:build race

package jsqueue_test

// raceEnabled is true under the race detector, which slows every process of
// the chaos tests (they run this binary) several times.
const raceEnabled = true
