package h2test

import "time"

// Advance lets d pass on the fake clock of the synctest bubble it is called
// in: a test's step in time (or a handler's work, in the handler's
// goroutine). It returns exactly d later on that clock, which moves only
// once every goroutine of the bubble is blocked, so whatever was due by then
// has happened. Outside a bubble it panics instead of sleeping on the
// machine's clock, where a test could only hope that something happened
// meanwhile. Tests call it, never time.Sleep (TestSleepsOnlyInFakeTime).
func Advance(d time.Duration) {
	if !InBubble() {
		panic("h2test.Advance outside a synctest bubble: use synctest.Test, or wait for an event")
	}
	time.Sleep(d)
}

// InBubble reports whether the calling goroutine is in a synctest bubble:
// a bubble's clock starts at midnight UTC 2000-01-01 (testing/synctest),
// and the machine's is decades past it.
func InBubble() bool { return time.Now().Before(bubbleEpoch.AddDate(1, 0, 0)) }

var bubbleEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
