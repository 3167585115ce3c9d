//go:build race

package drain

// raceEnabled shortens the exhaustive walk: the race detector makes each
// step ten times slower and this package starts no goroutines.
const raceEnabled = true
