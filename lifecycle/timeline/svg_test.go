package timeline

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

var update = flag.Bool("update", false, "rewrite testdata/example.svg")

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// drained is the report of a connection drained at start (ms after base)
// whose client answers the PING after rtt and whose last stream ends
// streams ms after the final GOAWAY.
func drained(id uint64, startMS, rttMS, streamsMS float64) lifecycle.Report {
	at := func(ms float64) time.Time { return base.Add(time.Duration(ms * float64(time.Millisecond))) }
	ack := startMS + rttMS
	final := ack + 20 // the settle period
	done := final + streamsMS
	return lifecycle.Report{
		ID:     id,
		Remote: fmt.Sprintf("127.0.0.1:%d", 40000+id),
		Reason: lifecycle.ReasonShutdown,
		Timeline: drain.Timeline{
			Start:       at(startMS),
			NoticeSent:  at(startMS + 0.05),
			Ack:         at(ack),
			Final:       at(final),
			StreamsDone: at(done),
			HalfClosed:  at(done + 0.02),
			Closed:      at(done + rttMS + 0.05),
		},
		Drained:          true,
		RTT:              time.Duration(rttMS * float64(time.Millisecond)),
		LastStreamID:     uint32(2*id + 1),
		StreamsOpened:    id + 1,
		StreamsCompleted: id + 1,
	}
}

// sample is a shutdown with every kind of row: plain drains spread over a
// window, one that waited for a slow stream, one whose ping timed out, one
// cut at the grace deadline, one the peer ended, and one closed without a
// drain.
func sample() []lifecycle.Report {
	var rs []lifecycle.Report
	for i := range 6 {
		rs = append(rs, drained(uint64(i+1), float64(i)*8, 0.4+0.1*float64(i), 0.5))
	}
	slow := drained(7, 10, 0.3, 95)
	slow.Reason = lifecycle.ReasonMaxAge
	rs = append(rs, slow)

	late := drained(8, 30, 60, 1) // the ping timeout stands in for the ACK
	late.PingTimedOut = true
	late.Reason = lifecycle.ReasonIdle
	rs = append(rs, late)

	cut := drained(9, 4, 0.5, 0)
	cut.Timeline.StreamsDone, cut.Timeline.HalfClosed = time.Time{}, time.Time{}
	cut.Timeline.Closed = base.Add(154 * time.Millisecond)
	cut.GraceExpired = true
	cut.StreamsCut = []uint32{17, 19}
	rs = append(rs, cut)

	peer := drained(10, 50, 0.3, 2) // the peer's GOAWAY: no notice, no ACK
	peer.Reason = lifecycle.ReasonPeer
	peer.Timeline.NoticeSent, peer.Timeline.Ack = time.Time{}, time.Time{}
	rs = append(rs, peer)

	rs = append(rs, lifecycle.Report{ID: 11, Remote: "127.0.0.1:40011", Reason: lifecycle.ReasonClosed,
		Timeline: drain.Timeline{Closed: base.Add(70 * time.Millisecond)}})
	// Out of order on purpose: SVG sorts.
	rs[0], rs[5] = rs[5], rs[0]
	return rs
}

func render(t *testing.T, rs []lifecycle.Report, opts ...Option) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := SVG(&b, rs, opts...); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// element is an SVG element as encoding/xml parses it.
type element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []element  `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (e *element) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (e *element) walk(f func(*element)) {
	f(e)
	for i := range e.Children {
		e.Children[i].walk(f)
	}
}

// parse checks that b is well-formed XML with an svg root and returns it.
func parse(t *testing.T, b []byte) *element {
	t.Helper()
	var root element
	if err := xml.Unmarshal(b, &root); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, b)
	}
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element %v, want svg in the SVG namespace", root.XMLName)
	}
	return &root
}

// rows returns the row groups in document order.
func rows(root *element) []*element {
	var rs []*element
	root.walk(func(e *element) {
		if e.XMLName.Local == "g" && e.attr("class") == "row" {
			rs = append(rs, e)
		}
	})
	return rs
}

// classes counts the elements of each class under e.
func classes(e *element) map[string]int {
	n := map[string]int{}
	e.walk(func(c *element) {
		if cls := c.attr("class"); cls != "" {
			n[cls]++
		}
	})
	return n
}

func TestSVGStructure(t *testing.T) {
	rs := sample()
	root := parse(t, render(t, rs))
	got := rows(root)
	if len(got) != len(rs) {
		t.Fatalf("%d rows, want one per report (%d)", len(got), len(rs))
	}
	// Sorted by drain start; the connection closed without a drain last.
	wantOrder := []string{"1", "9", "2", "7", "3", "4", "8", "5", "6", "10", "11"}
	for i, r := range got {
		if id := r.attr("data-conn"); id != wantOrder[i] {
			t.Errorf("row %d is connection %s, want %s", i, id, wantOrder[i])
		}
	}
	byID := map[string]*element{}
	for _, r := range got {
		byID[r.attr("data-conn")] = r
	}

	plain := classes(byID["1"])
	for _, cls := range []string{"m-goaway1", "m-ack", "m-goaway2", "m-streams-done", "m-fin", "m-closed",
		"phase-notice", "phase-settle", "phase-final", "phase-closing"} {
		if plain[cls] != 1 {
			t.Errorf("a plain drain has %d %s, want 1 (%v)", plain[cls], cls, plain)
		}
	}
	if plain["m-ping-timeout"]+plain["m-grace-cut"] != 0 {
		t.Errorf("a plain drain shows trouble: %v", plain)
	}

	late := classes(byID["8"])
	if late["m-ping-timeout"] != 1 || late["m-ack"] != 0 {
		t.Errorf("ping timeout row: %v, want the timeout marker instead of the ACK", late)
	}

	cut := classes(byID["9"])
	if cut["m-grace-cut"] != 1 || cut["m-closed"] != 0 || cut["m-fin"] != 0 {
		t.Errorf("grace-cut row: %v", cut)
	}
	// Without a FIN the final phase runs to the close.
	if cut["phase-final"] != 1 || cut["phase-closing"] != 0 {
		t.Errorf("grace-cut row phases: %v", cut)
	}
	if s := text(byID["9"]); !strings.Contains(s, "2 cut") {
		t.Errorf("grace-cut row text %q lacks the streams cut", s)
	}

	peer := classes(byID["10"])
	// No notice and no ACK: the bar runs from the start to the final
	// GOAWAY as one piece.
	if peer["m-goaway1"] != 0 || peer["m-ack"] != 0 || peer["phase-notice"] != 1 || peer["phase-settle"] != 0 {
		t.Errorf("peer row: %v", peer)
	}
	if peer["m-goaway2"] != 1 || peer["m-closed"] != 1 {
		t.Errorf("peer row: %v", peer)
	}

	none := classes(byID["11"])
	if none["m-closed"] != 1 || len(none) != 2 { // the row and its close
		t.Errorf("undrained row: %v, want only its close", none)
	}
	if s := text(byID["11"]); !strings.Contains(s, "no drain") {
		t.Errorf("undrained row text %q", s)
	}

	// The legend shows every marker and phase, the axis its ticks.
	all := classes(root)
	for _, k := range markerNames {
		if all["m-"+k] == 0 {
			t.Errorf("no %s marker anywhere (legend included)", k)
		}
	}
	if all["tick"] < 4 {
		t.Errorf("%d axis ticks", all["tick"])
	}
}

func text(e *element) string {
	var b strings.Builder
	e.walk(func(c *element) {
		if c.XMLName.Local != "title" {
			b.WriteString(c.Text)
		}
	})
	return b.String()
}

// Markers sit in time order from left to right on a row.
func TestSVGMarkerOrder(t *testing.T) {
	root := parse(t, render(t, []lifecycle.Report{drained(1, 0, 1, 10)}))
	xs := map[string]float64{}
	rows(root)[0].walk(func(e *element) {
		var x float64
		switch e.XMLName.Local {
		case "circle":
			fmt.Sscan(e.attr("cx"), &x)
		case "line":
			fmt.Sscan(e.attr("x1"), &x)
		case "rect":
			fmt.Sscan(e.attr("x"), &x)
		case "path":
			var a, b float64
			fmt.Sscanf(e.attr("d"), "M%g %g", &a, &b)
			x = a
		default:
			return
		}
		xs[e.attr("class")] = x
	})
	order := []string{"phase-notice", "m-ack", "m-goaway2", "m-streams-done", "phase-closing"}
	for i := 1; i < len(order); i++ {
		if xs[order[i-1]] >= xs[order[i]] {
			t.Errorf("%s at x=%v is not left of %s at x=%v", order[i-1], xs[order[i-1]], order[i], xs[order[i]])
		}
	}
}

func TestSVGSizes(t *testing.T) {
	for _, n := range []int{0, 1, 100} {
		var rs []lifecycle.Report
		for i := range n {
			rs = append(rs, drained(uint64(i+1), float64(i)*0.5, 0.2, float64(i%7)))
		}
		b := render(t, rs, WithWidth(100), WithTitle(`a <title> & "quotes"`))
		root := parse(t, b)
		if got := len(rows(root)); got != n {
			t.Errorf("%d reports: %d rows", n, got)
		}
		if w := root.attr("width"); w != "800" {
			t.Errorf("width %s, want the 800 minimum", w)
		}
		if n == 0 && !bytes.Contains(b, []byte("no connections")) {
			t.Error("an empty picture does not say so")
		}
	}
}

func TestTickStep(t *testing.T) {
	for _, c := range []struct {
		span, want time.Duration
	}{
		{0, time.Microsecond},
		{8 * time.Millisecond, time.Millisecond},
		{9 * time.Millisecond, 2 * time.Millisecond},
		{150 * time.Millisecond, 20 * time.Millisecond},
		{30 * time.Second, 5 * time.Second},
	} {
		if got := tickStep(c.span); got != c.want {
			t.Errorf("tickStep(%v) = %v, want %v", c.span, got, c.want)
		}
	}
	if got := ms(1500*time.Microsecond, 500*time.Microsecond); got != "1.5" {
		t.Errorf("ms = %q", got)
	}
	if got := dur(1234 * time.Microsecond); got != "1.23 ms" {
		t.Errorf("dur = %q", got)
	}
}

type failWriter struct{}

var errWrite = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestSVGWriteError(t *testing.T) {
	if err := SVG(failWriter{}, sample()); !errors.Is(err, errWrite) {
		t.Errorf("SVG to a failing writer: %v", err)
	}
	if err := SVG(io.Discard, sample(), nil); err != nil {
		t.Errorf("a nil option: %v", err)
	}
}

// TestExampleFile keeps testdata/example.svg, the picture the README shows,
// in step with the code: go test ./lifecycle/timeline -update rewrites it.
func TestExampleFile(t *testing.T) {
	b := render(t, sample(), WithTitle("h2lifecycle: a shutdown, every connection drained two-phase"))
	file := filepath.Join("testdata", "example.svg")
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
		t.Errorf("%s is stale: go test ./lifecycle/timeline -update", file)
	}
}
