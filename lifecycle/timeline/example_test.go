package timeline_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/lifecycle/timeline"
)

// A program draws the connections of its shutdown from the report
// server.RunShutdown returns: SVG(f, rep.Reports). Here, one connection
// drained by hand.
func ExampleSVG() {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	reports := []lifecycle.Report{{
		ID:     1,
		Reason: "shutdown",
		Timeline: drain.Timeline{
			Start: at(0), NoticeSent: at(0.05), Ack: at(0.3), // one round trip
			Final: at(20.3), StreamsDone: at(35), // 20ms settle, then a slow stream
			HalfClosed: at(35), Closed: at(35.4), // the peer's FIN a round trip later
		},
		RTT:              250 * time.Microsecond,
		StreamsCompleted: 12,
	}}
	var svg strings.Builder
	if err := timeline.SVG(&svg, reports, timeline.WithTitle("one drain")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Count(svg.String(), `<g class="row"`), "row")
	fmt.Println(strings.Contains(svg.String(), "35.4 ms · RTT 250 µs · 12 streams"))
	// Output:
	// 1 row
	// true
}
