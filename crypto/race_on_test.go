//go:build race

package crypto

// raceEnabled is true under the race detector, which slows the exhaustive
// single-goroutine algebra checks tenfold without checking anything there.
const raceEnabled = true
