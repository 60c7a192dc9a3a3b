// Package bench holds side-by-side benchmarks of sluice against the
// libraries users would otherwise pick. It is a separate module so that
// those libraries never enter sluice's own go.mod. Run ./run in this
// directory for the tables; see README.md.
package bench
