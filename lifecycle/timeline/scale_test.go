package timeline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// loopback1ms is one connection drained in a millisecond on loopback: a
// 62 µs round trip, a short settle, a stream that ends 0.5 ms after the
// final GOAWAY.
func loopback1ms() []lifecycle.Report {
	at := func(us int) time.Time { return base.Add(time.Duration(us) * time.Microsecond) }
	return []lifecycle.Report{{
		ID: 1, Remote: "127.0.0.1:40001", Reason: lifecycle.ReasonShutdown, Drained: true,
		Timeline: drain.Timeline{Start: at(0), NoticeSent: at(8), Ack: at(70), Final: at(220),
			StreamsDone: at(700), HalfClosed: at(712), Closed: at(1000)},
		RTT: 62 * time.Microsecond, LastStreamID: 3, StreamsOpened: 2, StreamsCompleted: 2,
	}}
}

// drain30s is a shutdown with a 30 s grace: eight connections drained in a
// few milliseconds each, their starts spread over 200 ms, one that waited
// 12 s for a slow stream, and one cut at the grace deadline.
func drain30s() []lifecycle.Report {
	var rs []lifecycle.Report
	for i := range 8 {
		rs = append(rs, drained(uint64(i+1), float64(i)*25, 0.2+0.05*float64(i), 0.3*float64(i)))
	}
	slow := drained(9, 3, 0.3, 12000)
	slow.Reason = lifecycle.ReasonShutdown
	rs = append(rs, slow)
	cut := drained(10, 6, 0.4, 0)
	cut.Timeline.StreamsDone, cut.Timeline.HalfClosed = time.Time{}, time.Time{}
	cut.Timeline.Closed = base.Add(30006 * time.Millisecond)
	cut.GraceExpired = true
	cut.StreamsCut = []uint32{21}
	return append(rs, cut)
}

// axisText returns the axis caption and the tick labels above the rows.
func axisText(root *element) (caption string, labels []string) {
	root.walk(func(e *element) {
		if e.XMLName.Local != "g" || e.attr("class") != "axis" {
			return
		}
		seen := map[string]bool{}
		for i := range e.Children {
			c := &e.Children[i]
			switch {
			case c.XMLName.Local == "text" && c.attr("font-style") == "italic":
				caption = c.Text
			case c.XMLName.Local == "text" && !seen[c.attr("x")]:
				seen[c.attr("x")] = true // each tick is labelled above and below
				labels = append(labels, c.Text)
			}
		}
	})
	return caption, labels
}

// zooms returns the rows that have a zoomed inset, by connection id.
func zooms(root *element) map[string]string {
	out := map[string]string{}
	for _, r := range rows(root) {
		r.walk(func(e *element) {
			if e.XMLName.Local == "g" && e.attr("class") == "zoom" {
				out[r.attr("data-conn")] = e.attr("data-span")
			}
		})
	}
	return out
}

// TestScales: a 1 ms drain alone is drawn on a millisecond axis with
// fractional ticks and no inset; on a 30 s axis the ticks are seconds and
// every drain too short to see (under 3 % of the axis) is drawn again,
// zoomed, beside its row; the long ones are not.
func TestScales(t *testing.T) {
	short := parse(t, render(t, loopback1ms()))
	caption, labels := axisText(short)
	if caption != "ms since the first drain began" || strings.Join(labels, " ") != "0.0 0.2 0.4 0.6 0.8 1.0" {
		t.Errorf("1 ms drain: caption %q, ticks %q", caption, labels)
	}
	if z := zooms(short); len(z) != 0 {
		t.Errorf("1 ms drain alone: zoomed insets %v", z)
	}

	long := parse(t, render(t, drain30s()))
	caption, labels = axisText(long)
	if caption != "s since the first drain began" || strings.Join(labels, " ") != "0 5 10 15 20 25 30 35" {
		t.Errorf("30 s drain: caption %q, ticks %q", caption, labels)
	}
	z := zooms(long)
	if len(z) != 8 || z["9"] != "" || z["10"] != "" {
		t.Errorf("30 s drain: zoomed insets %v, want the eight short drains (1–8)", z)
	}
	for _, r := range drain30s()[:8] { // each inset shows its own row's span
		if want := dur(r.Timeline.Closed.Sub(r.Timeline.Start)); z[fmt.Sprint(r.ID)] != want {
			t.Errorf("30 s drain: row %d's inset spans %q, want %q", r.ID, z[fmt.Sprint(r.ID)], want)
		}
	}
}

// TestScaleFiles keeps the two pictures of TestScales, and the PNGs made
// from them (testdata/render.sh), in step with the code: go test
// ./lifecycle/timeline -update rewrites the SVGs.
func TestScaleFiles(t *testing.T) {
	for name, rs := range map[string][]lifecycle.Report{"drain-1ms.svg": loopback1ms(), "drain-30s.svg": drain30s()} {
		b := render(t, rs, WithTitle("h2lifecycle: "+strings.TrimSuffix(name, ".svg")))
		file := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		old, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(old, b) {
			t.Errorf("%s is stale: go test ./lifecycle/timeline -update, then testdata/render.sh", file)
		}
	}
}
