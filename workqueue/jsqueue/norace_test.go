//go:build !race

package jsqueue_test

const raceEnabled = false
