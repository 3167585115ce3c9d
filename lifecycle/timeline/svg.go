package timeline

import (
	"bufio"
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// An Option changes how SVG draws.
type Option interface{ apply(*options) }

type options struct {
	title string
	width int
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithTitle sets the picture's title; the default is "HTTP/2 connection
// drains".
func WithTitle(title string) Option {
	return optionFunc(func(o *options) { o.title = title })
}

// WithWidth sets the picture's width in pixels. Zero means 1200; values below
// 800 are raised to 800, so that the legend fits on its two lines.
func WithWidth(px int) Option {
	return optionFunc(func(o *options) { o.width = px })
}

const (
	defaultWidth = 1200
	minWidth     = 800
	margin       = 16
	labelWidth   = 180 // connection id and reason
	statsWidth   = 310 // total, RTT, streams, what went wrong
	rowHeight    = 20
	barHeight    = 10
	axisHeight   = 26
)

// Colours: the phases are pale so that the markers on top of them stand
// out; the ping timeout and the grace deadline, the two ways a drain goes
// wrong, are the only red.
const (
	colNotice  = "#9ecae1"
	colSettle  = "#fdd49e"
	colFinal   = "#a1d99b"
	colClosing = "#d0d0d0"
	colGoAway1 = "#1f4e99"
	colAck     = "#238b45"
	colGoAway2 = "#7f2704"
	colStreams = "#000000"
	colFIN     = "#6a3d9a"
	colClosed  = "#404040"
	colBad     = "#d62728"
	colGrid    = "#e4e4e4"
	colZebra   = "#f6f6f6"
	colText    = "#222222"
	colMuted   = "#666666"
)

// SVG writes a picture of the reports' drains to w: one row per report,
// sorted by the start of its drain (connections that closed without a
// drain come last), on a time axis in milliseconds from the earliest drain
// start. An empty slice draws an empty picture that says so. SVG returns
// the first error writing to w.
func SVG(w io.Writer, reports []lifecycle.Report, opts ...Option) error {
	o := options{title: "HTTP/2 connection drains", width: defaultWidth}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if o.width == 0 {
		o.width = defaultWidth
	}
	o.width = max(o.width, minWidth)

	rows := slices.Clone(reports)
	slices.SortStableFunc(rows, func(a, b lifecycle.Report) int {
		ka, kb := sortKey(&a), sortKey(&b)
		if c := cmp.Compare(drainRank(&a), drainRank(&b)); c != 0 {
			return c
		}
		if c := ka.Compare(kb); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})

	p := newPicture(o, rows)
	bw := bufio.NewWriter(w)
	p.draw(&svgWriter{w: bw})
	if p.err != nil {
		return p.err
	}
	return bw.Flush()
}

// drainRank puts drained connections before the ones that just closed.
func drainRank(r *lifecycle.Report) int {
	if r.Timeline.Start.IsZero() {
		return 1
	}
	return 0
}

func sortKey(r *lifecycle.Report) time.Time {
	if !r.Timeline.Start.IsZero() {
		return r.Timeline.Start
	}
	return r.Timeline.Closed
}

// picture holds the geometry of one drawing.
type picture struct {
	o     options
	rows  []lifecycle.Report
	t0    time.Time     // the axis origin: the earliest time drawn
	span  time.Duration // the axis length, a whole number of ticks
	step  time.Duration // between ticks
	plotX float64       // left edge of the plot area
	plotW float64
	err   error
}

func newPicture(o options, rows []lifecycle.Report) *picture {
	p := &picture{o: o, rows: rows}
	p.plotX = margin + labelWidth
	p.plotW = float64(o.width - 2*margin - labelWidth - statsWidth)
	var last time.Time
	for i := range rows {
		for _, t := range times(&rows[i].Timeline) {
			if t.IsZero() {
				continue
			}
			if p.t0.IsZero() || t.Before(p.t0) {
				p.t0 = t
			}
			if t.After(last) {
				last = t
			}
		}
	}
	p.step = tickStep(last.Sub(p.t0))
	p.span = max(time.Duration(math.Ceil(float64(last.Sub(p.t0))/float64(p.step)))*p.step, p.step)
	return p
}

func times(tl *drain.Timeline) []time.Time {
	return []time.Time{tl.Start, tl.NoticeSent, tl.Ack, tl.Final, tl.StreamsDone, tl.HalfClosed, tl.Closed}
}

// tickStep picks 1, 2 or 5 times a power of ten so that span holds about
// eight ticks; never below a microsecond.
func tickStep(span time.Duration) time.Duration {
	raw := float64(span) / 8
	if raw < float64(time.Microsecond) {
		return time.Microsecond
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*mag {
			return time.Duration(m * mag)
		}
	}
	return time.Duration(10 * mag)
}

// x maps a time to its horizontal position.
func (p *picture) x(t time.Time) float64 {
	return p.plotX + float64(t.Sub(p.t0))/float64(p.span)*p.plotW
}

func (p *picture) draw(w *svgWriter) {
	const titleY, legendY = 26, 52
	axisTop := float64(legendY + 2*20 + 30 + axisHeight)
	rowsTop := axisTop + 6
	rowsBottom := rowsTop + float64(len(p.rows)*rowHeight)
	height := rowsBottom + axisHeight + 6 + margin
	if len(p.rows) == 0 {
		height = rowsTop + 40 + margin
	}

	w.f(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%s" viewBox="0 0 %d %s" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12" fill="%s">`+"\n",
		p.o.width, num(height), p.o.width, num(height), colText)
	w.f(`<title>%s</title>`+"\n", esc(p.o.title))
	w.f(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	w.f(`<text x="%d" y="%d" font-size="16" font-weight="bold">%s</text>`+"\n", margin, titleY, esc(p.o.title))
	w.f(`<text x="%d" y="%d" fill="%s" text-anchor="end">%s</text>`+"\n", p.o.width-margin, titleY, colMuted, esc(p.subtitle()))
	p.legend(w, legendY)

	if len(p.rows) == 0 {
		w.f(`<text class="empty" x="%d" y="%s" fill="%s">no connections</text>`+"\n", margin, num(rowsTop+20), colMuted)
		w.f("</svg>\n")
		p.err = w.err
		return
	}

	// Zebra stripes first, then the grid over them, then the rows.
	for i := range p.rows {
		if i%2 == 1 {
			w.f(`<rect x="%d" y="%s" width="%d" height="%d" fill="%s"/>`+"\n",
				margin, num(rowsTop+float64(i*rowHeight)), p.o.width-2*margin, rowHeight, colZebra)
		}
	}
	p.axis(w, axisTop, rowsTop, rowsBottom)
	w.f(`<text x="%s" y="%s" fill="%s" font-weight="bold">connection · reason</text>`+"\n", num(margin), num(axisTop-8), colMuted)
	w.f(`<text x="%s" y="%s" fill="%s" font-weight="bold">total · RTT · streams</text>`+"\n", num(p.plotX+p.plotW+14), num(axisTop-8), colMuted)
	for i := range p.rows {
		p.row(w, &p.rows[i], rowsTop+float64(i*rowHeight))
	}
	w.f("</svg>\n")
	p.err = w.err
}

func (p *picture) subtitle() string {
	n := len(p.rows)
	drained := 0
	for i := range p.rows {
		if !p.rows[i].Timeline.Start.IsZero() {
			drained++
		}
	}
	s := fmt.Sprintf("%d connection%s, %d drained", n, plural(n), drained)
	if !p.t0.IsZero() {
		s += " · t = 0 at " + p.t0.UTC().Format("2006-01-02 15:04:05.000 UTC")
	}
	return s
}

// legend draws the phases on one line and the markers on the next.
func (p *picture) legend(w *svgWriter, y float64) {
	w.f(`<g class="legend">` + "\n")
	x := float64(margin)
	for _, ph := range phases {
		w.f(`<rect x="%s" y="%s" width="22" height="%d" fill="%s"/>`+"\n", num(x), num(y-barHeight+1), barHeight, ph.colour)
		w.f(`<text x="%s" y="%s">%s</text>`+"\n", num(x+28), num(y), esc(ph.legend))
		x += 28 + 7*float64(len(ph.legend)) + 22
	}
	y += 20
	x = float64(margin) + 6
	for _, m := range legendMarkers {
		drawMarker(w, m.kind, x, y-4)
		w.f(`<text x="%s" y="%s">%s</text>`+"\n", num(x+10), num(y), esc(m.text))
		x += 10 + 7.4*float64(len([]rune(m.text))) + 22
	}
	w.f("</g>\n")
}

// axis draws the ticks above and below the rows and the grid between.
func (p *picture) axis(w *svgWriter, top, rowsTop, rowsBottom float64) {
	w.f(`<g class="axis" font-size="11" fill="%s">`+"\n", colMuted)
	for t := time.Duration(0); t <= p.span; t += p.step {
		x := p.x(p.t0.Add(t))
		label := axisLabel(t, p.step)
		w.f(`<line class="tick" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(x), num(rowsTop-4), num(x), num(rowsBottom+4), colGrid)
		w.f(`<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num(x), num(top-8-12), label)
		w.f(`<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num(x), num(rowsBottom+18), label)
	}
	unit := "ms"
	if p.step >= time.Second {
		unit = "s"
	}
	w.f(`<text x="%s" y="%s" font-style="italic">%s since the first drain began</text>`+"\n", num(p.plotX), num(top-8-12-16), unit)
	w.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(p.plotX), num(rowsTop-4), num(p.plotX+p.plotW), num(rowsTop-4), colMuted)
	w.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(p.plotX), num(rowsBottom+4), num(p.plotX+p.plotW), num(rowsBottom+4), colMuted)
	w.f("</g>\n")
}

// row draws one connection: its label, its phase bars, its markers and its
// numbers.
func (p *picture) row(w *svgWriter, r *lifecycle.Report, top float64) {
	tl := &r.Timeline
	cy := top + rowHeight/2
	w.f(`<g class="row" data-conn="%d" data-reason="%s">`+"\n", r.ID, esc(string(r.Reason)))
	w.f(`<title>%s</title>`+"\n", esc(tooltip(r)))
	reason := string(r.Reason)
	if reason == "" {
		reason = "?"
	}
	if tl.Start.IsZero() {
		reason += " (no drain)"
	}
	w.f(`<text x="%d" y="%s">#%d <tspan font-weight="bold">%s</tspan></text>`+"\n", margin+4, num(cy+4), r.ID, esc(reason))
	drawSteps(w, r, cy, p.x)
	p.zoom(w, r, cy)

	// Numbers on the right.
	sx := num(p.plotX + p.plotW + 14)
	var parts []string
	if !tl.Start.IsZero() && !tl.Closed.IsZero() {
		parts = append(parts, dur(tl.Closed.Sub(tl.Start)))
	} else {
		parts = append(parts, "—")
	}
	if r.RTT > 0 {
		parts = append(parts, "RTT "+dur(r.RTT))
	}
	parts = append(parts, fmt.Sprintf("%d stream%s", r.StreamsCompleted, plural(int(r.StreamsCompleted))))
	w.f(`<text x="%s" y="%s" font-size="11">%s`, sx, num(cy+4), esc(strings.Join(parts, " · ")))
	if r.PingTimedOut {
		w.f(` <tspan fill="%s">· ping timeout</tspan>`, colBad)
	}
	if r.GraceExpired || len(r.StreamsCut) > 0 {
		w.f(` <tspan fill="%s" font-weight="bold">· %d cut</tspan>`, colBad, len(r.StreamsCut))
	}
	w.f("</text>\n</g>\n")
}

// zoomBelow is the share of the axis under which a row's steps are drawn
// again, zoomed, beside it: a 1 ms drain on a 30 s axis is under a pixel.
const zoomBelow = 0.03

// zoomWidth is the width of a zoomed copy, in pixels.
const zoomWidth = 150

// zoom draws a row whose steps span less than zoomBelow of the axis again
// on its own scale, in a framed inset beside it (right of it, or left when
// the plot ends first), joined to it by a dotted line and labelled with the
// span it shows.
func (p *picture) zoom(w *svgWriter, r *lifecycle.Report, cy float64) {
	first, last := extent(&r.Timeline)
	span := last.Sub(first)
	if span <= 0 || float64(span) >= zoomBelow*float64(p.span) {
		return
	}
	const gap, labelW = 14, 52
	x0 := p.x(last) + gap
	anchor := p.x(last)
	if x0+zoomWidth+labelW > p.plotX+p.plotW {
		x0 = p.x(first) - gap - zoomWidth - labelW
		anchor = p.x(first)
	}
	if x0 < p.plotX {
		return // no room either side
	}
	xf := func(t time.Time) float64 { return x0 + 6 + float64(t.Sub(first))/float64(span)*(zoomWidth-12) }
	w.f(`<g class="zoom" data-span="%s">`+"\n", esc(dur(span)))
	end := x0
	if anchor > x0 {
		end = x0 + zoomWidth
	}
	w.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-dasharray="2 2"/>`+"\n", num(anchor), num(cy), num(end), num(cy), colMuted)
	w.f(`<rect x="%s" y="%s" width="%d" height="%d" fill="#ffffff" stroke="%s" rx="2"/>`+"\n",
		num(x0), num(cy-rowHeight/2+1.5), zoomWidth, rowHeight-3, colMuted)
	drawSteps(w, r, cy, xf)
	w.f(`<text x="%s" y="%s" font-size="10" fill="%s">%s zoomed</text>`+"\n", num(x0+zoomWidth+4), num(cy+3.5), colMuted, esc(dur(span)))
	w.f("</g>\n")
}

// extent is the first and the last step a timeline recorded.
func extent(tl *drain.Timeline) (first, last time.Time) {
	for _, t := range times(tl) {
		if t.IsZero() {
			continue
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	return first, last
}

// drawSteps draws a row's phase bars and markers centred on cy, placing
// each time with xf.
func drawSteps(w *svgWriter, r *lifecycle.Report, cy float64, xf func(time.Time) float64) {
	tl := &r.Timeline
	// Phase bars: each runs from its first boundary to the next boundary
	// that happened, so a drain that skipped a step (the peer's GOAWAY skips
	// the notice, the grace deadline skips the FIN) still draws without a
	// gap. A boundary earlier than the one before it (the client can close
	// before the final GOAWAY) draws nothing.
	bounds := []time.Time{tl.Start, tl.Ack, tl.Final, tl.HalfClosed, tl.Closed}
	for i, ph := range phases {
		from := bounds[i]
		if from.IsZero() {
			continue
		}
		var to time.Time
		for _, b := range bounds[i+1:] {
			if !b.IsZero() {
				to = b
				break
			}
		}
		if to.IsZero() || to.Before(from) {
			continue
		}
		x1, x2 := xf(from), xf(to)
		w.f(`<rect class="phase-%s" x="%s" y="%s" width="%s" height="%d" fill="%s"/>`+"\n",
			ph.name, num(x1), num(cy-barHeight/2), num(max(x2-x1, 0.75)), barHeight, ph.colour)
	}

	// Markers, in the order they happen, so that later ones are on top.
	mark := func(k markerKind, t time.Time) {
		if !t.IsZero() {
			drawMarker(w, k, xf(t), cy)
		}
	}
	mark(markGoAway1, tl.NoticeSent)
	if r.PingTimedOut {
		mark(markPingTimeout, tl.Ack)
	} else {
		mark(markAck, tl.Ack)
	}
	mark(markGoAway2, tl.Final)
	mark(markStreamsDone, tl.StreamsDone)
	mark(markFIN, tl.HalfClosed)
	if r.GraceExpired {
		mark(markGraceCut, tl.Closed)
	} else {
		mark(markClosed, tl.Closed)
	}
}

func tooltip(r *lifecycle.Report) string {
	tl := &r.Timeline
	var b strings.Builder
	fmt.Fprintf(&b, "connection %d %s, reason %s", r.ID, r.Remote, r.Reason)
	if tl.Start.IsZero() {
		b.WriteString(", closed without a drain")
	}
	step := func(name string, t time.Time) {
		if !t.IsZero() && !tl.Start.IsZero() {
			fmt.Fprintf(&b, "\n%s: +%s", name, dur(t.Sub(tl.Start)))
		}
	}
	step("GOAWAY(2^31-1)+PING", tl.NoticeSent)
	if r.PingTimedOut {
		step("ping timeout", tl.Ack)
	} else {
		step("PING ACK", tl.Ack)
	}
	step("GOAWAY(last)", tl.Final)
	step("last stream ended", tl.StreamsDone)
	step("FIN", tl.HalfClosed)
	step("closed", tl.Closed)
	fmt.Fprintf(&b, "\nlast stream id %d, %d opened, %d completed, %d reset, %d cut; RTT %s; age %s",
		r.LastStreamID, r.StreamsOpened, r.StreamsCompleted, r.StreamsReset, len(r.StreamsCut), dur(r.RTT), dur(r.Age))
	if r.GraceExpired {
		b.WriteString("; the grace deadline cut it")
	}
	return b.String()
}

type phase struct {
	name, legend, colour string
}

// phases are the log line's phases, in order.
var phases = []phase{
	{"notice", "notice: start → PING ACK", colNotice},
	{"settle", "settle: ACK → final GOAWAY", colSettle},
	{"final", "final: streams finish → FIN", colFinal},
	{"closing", "closing: FIN → close", colClosing},
}

type markerKind int

const (
	markGoAway1 markerKind = iota
	markAck
	markPingTimeout
	markGoAway2
	markStreamsDone
	markFIN
	markClosed
	markGraceCut
)

var markerNames = [...]string{"goaway1", "ack", "ping-timeout", "goaway2", "streams-done", "fin", "closed", "grace-cut"}

var legendMarkers = []struct {
	kind markerKind
	text string
}{
	{markGoAway1, "GOAWAY(2³¹−1)+PING"},
	{markAck, "PING ACK"},
	{markPingTimeout, "ping timeout"},
	{markGoAway2, "GOAWAY(last)"},
	{markStreamsDone, "last stream ends"},
	{markFIN, "FIN"},
	{markClosed, "closed"},
	{markGraceCut, "grace cut"},
}

// drawMarker draws one marker centred on (x, y). Each has its own shape as
// well as its own colour, so that the picture reads in grey too.
func drawMarker(w *svgWriter, k markerKind, x, y float64) {
	cls := "m-" + markerNames[k]
	switch k {
	case markGoAway1: // a triangle pointing down: the notice falls on the client
		w.f(`<path class="%s" d="M%s %sL%s %sL%s %sZ" fill="%s"/>`+"\n", cls,
			num(x-5), num(y-6), num(x+5), num(y-6), num(x), num(y+3), colGoAway1)
	case markAck:
		w.f(`<circle class="%s" cx="%s" cy="%s" r="4" fill="%s"/>`+"\n", cls, num(x), num(y), colAck)
	case markPingTimeout: // hollow: no ACK came
		w.f(`<circle class="%s" cx="%s" cy="%s" r="4" fill="#ffffff" stroke="%s" stroke-width="2"/>`+"\n", cls, num(x), num(y), colBad)
	case markGoAway2:
		w.f(`<path class="%s" d="M%s %sL%s %sL%s %sL%s %sZ" fill="%s"/>`+"\n", cls,
			num(x), num(y-6), num(x+5), num(y), num(x), num(y+6), num(x-5), num(y), colGoAway2)
	case markStreamsDone:
		w.f(`<line class="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"/>`+"\n", cls,
			num(x), num(y-7), num(x), num(y+7), colStreams)
	case markFIN: // a triangle pointing right: our side is done
		w.f(`<path class="%s" d="M%s %sL%s %sL%s %sZ" fill="%s"/>`+"\n", cls,
			num(x-3), num(y-5), num(x+5), num(y), num(x-3), num(y+5), colFIN)
	case markClosed:
		w.f(`<rect class="%s" x="%s" y="%s" width="7" height="7" fill="%s"/>`+"\n", cls, num(x-3.5), num(y-3.5), colClosed)
	case markGraceCut:
		w.f(`<path class="%s" d="M%s %sL%s %sM%s %sL%s %s" stroke="%s" stroke-width="2.5"/>`+"\n", cls,
			num(x-5), num(y-5), num(x+5), num(y+5), num(x-5), num(y+5), num(x+5), num(y-5), colBad)
	}
}

// svgWriter keeps the first write error, so that drawing code need not.
type svgWriter struct {
	w   io.Writer
	err error
}

func (w *svgWriter) f(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format, args...)
	}
}

// esc escapes text for XML character data and attribute values.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}

// num formats a coordinate with at most two decimals.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}

// axisLabel formats an axis label: in seconds on long axes (ticks a second
// apart or more), else in milliseconds.
func axisLabel(d, step time.Duration) string {
	if step >= time.Second {
		return strconv.FormatFloat(d.Seconds(), 'f', 0, 64)
	}
	return ms(d, step)
}

// ms formats an axis label in milliseconds with as many decimals as the
// tick step needs.
func ms(d, step time.Duration) string {
	decimals := max(0, int(math.Ceil(-math.Log10(float64(step)/float64(time.Millisecond)))))
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', decimals, 64)
}

// dur formats a duration for people: about three significant digits, in
// the unit that suits it.
func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return sig3(float64(d)/float64(time.Microsecond)) + " µs"
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + " ms"
	}
	return sig3(d.Seconds()) + " s"
}

func sig3(v float64) string {
	decimals := 2
	switch {
	case v >= 100:
		decimals = 0
	case v >= 10:
		decimals = 1
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
