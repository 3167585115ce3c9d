//go:build race

package lifecycle

// raceEnabled: the race detector's instrumentation enlarges every frame, so
// stack-depth properties of production builds do not hold under it.
const raceEnabled = true
