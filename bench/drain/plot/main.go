// Command plot draws bench/drain/run.sh's count results as an SVG: drain
// time against connection count, one line per server and client behaviour
// (solid: the last connection closed; dashed: the Shutdown call returned),
// medians over the repetitions, with the 2 s budget as a grey line.
//
//	go run ./bench/drain/plot -in bench/drain/results/count-go1.26.8.tsv -out drain.svg
package main

import (
	"bufio"
	"flag"
	"fmt"
	"html"
	"log"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

type key struct{ kind, client string }

func main() {
	in := flag.String("in", "", "TSV written by bench/drain/run.sh (PART=count)")
	out := flag.String("out", "drain.svg", "SVG to write")
	title := flag.String("title", "Drain time of N idle h2c connections", "title")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	// samples[series][conns] = {last_ms...}, {api_ms...}
	last := map[key]map[int][]float64{}
	api := map[key]map[int][]float64{}
	sc := bufio.NewScanner(f)
	var cols map[string]int
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = map[string]int{}
			for i, c := range fields {
				cols[c] = i
			}
			continue
		}
		get := func(c string) float64 {
			v, _ := strconv.ParseFloat(fields[cols[c]], 64)
			return v
		}
		k := key{fields[cols["kind"]], fields[cols["client"]]}
		n := int(get("conns"))
		if last[k] == nil {
			last[k], api[k] = map[int][]float64{}, map[int][]float64{}
		}
		last[k][n] = append(last[k][n], get("last_ms"))
		api[k][n] = append(api[k][n], get("api_ms"))
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	if len(last) == 0 {
		log.Fatal("no rows")
	}
	o, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(o)
	draw(w, *title, last, api)
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := o.Close(); err != nil {
		log.Fatal(err)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func draw(w *bufio.Writer, title string, last, api map[key]map[int][]float64) {
	const W, H, left, right, top, bottom = 860.0, 460.0, 70.0, 330.0, 50.0, 50.0
	pw, ph := W-left-right, H-top-bottom
	maxN, maxY := 0, 2000.0 // the budget is always visible
	var keys []key
	for k, byN := range last {
		keys = append(keys, k)
		for n, v := range byN {
			maxN = max(maxN, n)
			maxY = max(maxY, median(v), median(api[k][n]))
		}
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.client+a.kind, b.client+b.kind) })
	step := niceStep(maxY / 5)
	maxY = math.Ceil(maxY/step) * step
	x := func(n int) float64 { return left + pw*float64(n)/float64(maxN) }
	y := func(v float64) float64 { return top + ph*(1-v/maxY) }

	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(w, `<rect width="%g" height="%g" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(w, `<text x="%g" y="24" font-size="14" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	// Axes and grid.
	for v := 0.0; v <= maxY+1e-9; v += step {
		fmt.Fprintf(w, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`+"\n", left, y(v), left+pw, y(v))
		fmt.Fprintf(w, `<text x="%g" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y(v)+4, v)
	}
	ns := map[int]bool{}
	for _, byN := range last {
		for n := range byN {
			ns[n] = true
		}
	}
	for n := range ns {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#ddd"/>`+"\n", x(n), top, x(n), top+ph)
		fmt.Fprintf(w, `<text x="%.1f" y="%g" text-anchor="middle">%d</text>`+"\n", x(n), top+ph+16, n)
	}
	fmt.Fprintf(w, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">idle connections</text>`+"\n", left+pw/2, H-12)
	fmt.Fprintf(w, `<text x="16" y="%g" transform="rotate(-90 16 %g)" text-anchor="middle">milliseconds from the drain's start</text>`+"\n", top+ph/2, top+ph/2)
	fmt.Fprintf(w, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#999" stroke-width="2" stroke-dasharray="2,3"/>`+"\n", left, y(2000), left+pw, y(2000))
	fmt.Fprintf(w, `<text x="%g" y="%.1f" fill="#777" text-anchor="end">budget 2 s</text>`+"\n", left+pw-4, y(2000)-4)

	colors := map[key]string{
		{"stock", "eof"}: "#d62728", {"h2lifecycle", "eof"}: "#1f77b4",
		{"stock", "goaway"}: "#ff9896", {"h2lifecycle", "goaway"}: "#6baed6",
	}
	for i, k := range keys {
		c := colors[k]
		if c == "" {
			c = "#555"
		}
		var ptsLast, ptsAPI []string
		var sorted []int
		for n := range last[k] {
			sorted = append(sorted, n)
		}
		slices.Sort(sorted)
		for _, n := range sorted {
			ptsLast = append(ptsLast, fmt.Sprintf("%.1f,%.1f", x(n), y(median(last[k][n]))))
			ptsAPI = append(ptsAPI, fmt.Sprintf("%.1f,%.1f", x(n), y(median(api[k][n]))))
		}
		fmt.Fprintf(w, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"/>`+"\n", strings.Join(ptsLast, " "), c)
		fmt.Fprintf(w, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="6,4"/>`+"\n", strings.Join(ptsAPI, " "), c)
		for _, p := range ptsLast {
			xy := strings.Split(p, ",")
			fmt.Fprintf(w, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", xy[0], xy[1], c)
		}
		ly := top + 10 + float64(i)*36
		fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2.5"/>`+"\n", W-right+16, ly, W-right+40, ly, c)
		fmt.Fprintf(w, `<text x="%g" y="%g">%s, client closes on %s</text>`+"\n", W-right+46, ly+4, k.kind, strings.ToUpper(k.client))
		fmt.Fprintf(w, `<text x="%g" y="%g" fill="#666" font-size="10">solid: last close; dashed: Shutdown returned</text>`+"\n", W-right+46, ly+17)
	}
	fmt.Fprintln(w, `</svg>`)
}

// niceStep rounds a raw grid step to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}
