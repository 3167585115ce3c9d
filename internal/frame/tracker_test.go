package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// sample returns a byte stream of assorted, valid frames written by
// http2.Framer, including a header block split across CONTINUATION frames.
func sample(t testing.TB) []byte {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "x-big", Value: string(bytes.Repeat([]byte("v"), 300))})
	block := hb.Bytes()

	must(fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250}))
	must(fr.WriteSettingsAck())
	must(fr.WriteWindowUpdate(0, 983041))
	must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:100], EndStream: false, EndHeaders: false}))
	must(fr.WriteContinuation(1, false, block[100:200]))
	must(fr.WriteContinuation(1, true, block[200:]))
	must(fr.WriteData(1, false, bytes.Repeat([]byte("d"), 1000)))
	must(fr.WriteData(1, true, nil))
	must(fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}))
	must(fr.WritePing(true, [8]byte{'h', '2', 'l', 'c', 0, 0, 0, 9}))
	must(fr.WriteRSTStream(3, http2.ErrCodeCancel))
	must(fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: block[:10], EndHeaders: true, PadLength: 3}))
	must(fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 4, BlockFragment: block[:10], EndHeaders: true}))
	must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: block, EndStream: true, EndHeaders: true, PadLength: 7}))
	must(fr.WritePriority(7, http2.PriorityParam{StreamDep: 5, Weight: 10}))
	must(fr.WriteGoAway(2147483647, http2.ErrCodeNo, []byte("shutdown")))
	must(fr.WriteGoAway(5, http2.ErrCodeProtocol, nil))
	must(fr.WriteRawFrame(0x42, 0xff, 9, []byte("unknown frame type")))
	return buf.Bytes()
}

// seen is what a tracker (or the reference parser) reports for one frame.
type seen struct {
	end      int // offset just past the frame
	h        Header
	detail   uint64 // type-specific payload fields
	boundary bool
}

func detail(f *Frame) uint64 {
	switch f.Type {
	case TypePing:
		d := f.PingData()
		return binary.BigEndian.Uint64(d[:])
	case TypeGoAway:
		last, code := f.GoAway()
		return uint64(last)<<32 | uint64(code)
	case TypeRSTStream:
		return uint64(f.ErrCode())
	case TypeWindowUpdate:
		return uint64(f.Increment())
	case TypePushPromise:
		return uint64(f.PromisedID())
	}
	return 0
}

// track feeds b to a tracker in the given chunk sizes.
func track(b []byte, chunks []int, preface bool) []seen {
	var tr Tracker
	if preface {
		tr.ExpectPreface()
	}
	var out []seen
	off := 0
	for _, c := range chunks {
		p := b[off : off+c]
		for i := 0; i < len(p); {
			n, done := tr.Next(p[i:])
			if n <= 0 && len(p[i:]) > 0 {
				panic("no progress")
			}
			i += n
			if done {
				f := tr.Last()
				out = append(out, seen{off + i, f.Header, detail(f), tr.Boundary()})
			}
		}
		off += c
	}
	return out
}

// reference parses b with x/net's frame header reader and Framer.
func reference(t testing.TB, b []byte, preface bool) []seen {
	off := 0
	if preface {
		if !bytes.HasPrefix(b, []byte(ClientPreface)) {
			return nil
		}
		off = len(ClientPreface)
	}
	var out []seen
	inBlock := false
	for {
		r := bytes.NewReader(b[off:])
		fh, err := http2.ReadFrameHeader(r)
		if err != nil {
			return out // incomplete header: nothing more ends
		}
		if int(fh.Length) > r.Len() {
			return out // incomplete payload
		}
		end := off + HeaderLen + int(fh.Length)
		h := Header{fh.Length, Type(fh.Type), Flags(fh.Flags), fh.StreamID}
		f := Frame{Header: h}
		copy(f.prefix[:prefixLen(&h)], b[off+HeaderLen:end])
		switch h.Type {
		case TypeHeaders, TypePushPromise, TypeContinuation:
			inBlock = !h.Flags.Has(FlagEndHeaders)
		default:
			inBlock = false
		}
		s := seen{end, h, detail(&f), !inBlock}
		checkAgainstFramer(t, b[off:end], s)
		out = append(out, s)
		off = end
	}
}

// checkAgainstFramer checks the fields the tracker extracts against what
// http2.Framer decodes from the same well-formed frame.
func checkAgainstFramer(t testing.TB, frameBytes []byte, s seen) {
	fr := http2.NewFramer(nil, bytes.NewReader(frameBytes))
	fr.SetMaxReadFrameSize(1<<24 - 1)
	f, err := fr.ReadFrame()
	if err != nil {
		return // malformed: the server would reject it; only boundaries matter
	}
	var want uint64
	switch f := f.(type) {
	case *http2.PingFrame:
		want = binary.BigEndian.Uint64(f.Data[:])
	case *http2.GoAwayFrame:
		want = uint64(f.LastStreamID)<<32 | uint64(f.ErrCode)
	case *http2.RSTStreamFrame:
		want = uint64(f.ErrCode)
	case *http2.WindowUpdateFrame:
		want = uint64(f.Increment)
	case *http2.PushPromiseFrame:
		want = uint64(f.PromiseID)
	default:
		return
	}
	if s.detail != want {
		t.Errorf("frame %v: tracker field %#x, Framer %#x", s.h, s.detail, want)
	}
}

func equalSeen(t testing.TB, got, want []seen) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("tracker saw %d frames, reference %d\n got %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("frame %d: tracker %+v, reference %+v", i, got[i], want[i])
		}
	}
}

func TestTrackerWholeStream(t *testing.T) {
	b := sample(t)
	want := reference(t, b, false)
	if len(want) != 18 {
		t.Fatalf("reference parsed %d frames, want 18", len(want))
	}
	equalSeen(t, track(b, []int{len(b)}, false), want)
}

// Every split of the stream into two chunks, and every byte on its own.
func TestTrackerEverySplit(t *testing.T) {
	b := sample(t)
	want := reference(t, b, false)
	for i := 0; i <= len(b); i++ {
		equalSeen(t, track(b, []int{i, len(b) - i}, false), want)
	}
	ones := make([]int, len(b))
	for i := range ones {
		ones[i] = 1
	}
	equalSeen(t, track(b, ones, false), want)
}

func TestTrackerPreface(t *testing.T) {
	b := append([]byte(ClientPreface), sample(t)...)
	want := reference(t, b, true)
	for i := 0; i <= 40; i++ {
		equalSeen(t, track(b, []int{i, len(b) - i}, true), want)
	}

	var tr Tracker
	tr.ExpectPreface()
	if tr.Boundary() {
		t.Fatal("Boundary before the preface was read")
	}
	bogus := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if n, done := tr.Next(bogus); n != len(bogus) || done || !tr.Lost() || tr.Boundary() {
		t.Fatalf("bogus preface: n=%d done=%v lost=%v boundary=%v", n, done, tr.Lost(), tr.Boundary())
	}
}

func TestTrackerHeaderBlock(t *testing.T) {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x88}, EndHeaders: false})
	n1 := buf.Len()
	fr.WriteContinuation(1, false, []byte{0x88})
	n2 := buf.Len()
	fr.WriteContinuation(1, true, []byte{0x88})
	b := buf.Bytes()

	var tr Tracker
	for i, end := range []int{n1, n2, len(b)} {
		start := []int{0, n1, n2}[i]
		n, done := tr.Next(b[start:end])
		if n != end-start || !done {
			t.Fatalf("frame %d: n=%d done=%v", i, n, done)
		}
		if inside := i < 2; tr.Boundary() == inside || tr.InHeaderBlock() != inside {
			t.Fatalf("after frame %d: Boundary=%v InHeaderBlock=%v", i, tr.Boundary(), tr.InHeaderBlock())
		}
	}
}

func TestTrackerMidFrameIsNotBoundary(t *testing.T) {
	b := sample(t)
	var tr Tracker
	for i := range b {
		tr.Next(b[i : i+1])
		atEnd := false
		for _, s := range reference(t, b, false) {
			if s.end == i+1 && s.boundary {
				atEnd = true
			}
		}
		if tr.Boundary() != atEnd {
			t.Fatalf("offset %d: Boundary=%v, want %v", i+1, tr.Boundary(), atEnd)
		}
	}
}

func TestTrackerShortPayloadShowsNoStaleBytes(t *testing.T) {
	var tr Tracker
	full := AppendPing(nil, true, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	tr.Next(full)
	short := []byte{0, 0, 3, byte(TypePing), byte(FlagAck), 0, 0, 0, 0, 9, 9, 9}
	if _, done := tr.Next(short); !done {
		t.Fatal("short PING not seen")
	}
	if got := tr.Last().PingData(); got != [8]byte{9, 9, 9} {
		t.Fatalf("short PING data %v", got)
	}
}

func TestEncodersRoundTrip(t *testing.T) {
	var b []byte
	b = AppendGoAway(b, MaxStreamID, ErrCodeNo, "shutdown")
	b = AppendPing(b, false, [8]byte{'h', '2', 'l', 'c', 1, 2, 3, 4})
	b = AppendRSTStream(b, 7, ErrCodeCancel)
	fr := http2.NewFramer(nil, bytes.NewReader(b))
	f, err := fr.ReadFrame()
	if ga, ok := f.(*http2.GoAwayFrame); err != nil || !ok || ga.LastStreamID != MaxStreamID || ga.ErrCode != http2.ErrCodeNo || string(ga.DebugData()) != "shutdown" {
		t.Fatalf("GOAWAY: %v %v", f, err)
	}
	f, err = fr.ReadFrame()
	if p, ok := f.(*http2.PingFrame); err != nil || !ok || p.IsAck() || p.Data != [8]byte{'h', '2', 'l', 'c', 1, 2, 3, 4} {
		t.Fatalf("PING: %v %v", f, err)
	}
	f, err = fr.ReadFrame()
	if r, ok := f.(*http2.RSTStreamFrame); err != nil || !ok || r.StreamID != 7 || r.ErrCode != http2.ErrCodeCancel {
		t.Fatalf("RST_STREAM: %v %v", f, err)
	}
	if _, err := fr.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("trailing bytes: %v", err)
	}
}

func TestTrackerAllocs(t *testing.T) {
	b := sample(t)
	var tr Tracker
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < len(b); {
			n, _ := tr.Next(b[i:min(i+7, len(b))])
			i += n
		}
	})
	if allocs != 0 {
		t.Fatalf("Tracker.Next allocates %.1f times per stream", allocs)
	}
}

// FuzzTracker checks the tracker against x/net's frame parsing for random
// bytes cut into random chunks.
func FuzzTracker(f *testing.F) {
	f.Add(sample(f), uint64(1), false)
	f.Add(append([]byte(ClientPreface), sample(f)...), uint64(7), true)
	f.Add([]byte{0, 0, 8, 6, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, uint64(3), false)
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 9, 4}, uint64(0), false)
	f.Fuzz(func(t *testing.T, b []byte, seed uint64, preface bool) {
		rng := rand.New(rand.NewPCG(seed, seed>>1))
		var chunks []int
		for rest := len(b); rest > 0; {
			c := 1 + rng.IntN(min(rest, 1+rng.IntN(64)))
			chunks = append(chunks, c)
			rest -= c
		}
		equalSeen(t, track(b, chunks, preface), reference(t, b, preface))
	})
}

func BenchmarkTrackerResponse(b *testing.B) {
	// A typical small response: HEADERS + DATA(END_STREAM), written in one chunk.
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: make([]byte, 40), EndHeaders: true})
	fr.WriteData(1, true, []byte("ok"))
	p := buf.Bytes()
	var tr Tracker
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		for i := 0; i < len(p); {
			n, _ := tr.Next(p[i:])
			i += n
		}
	}
}

func TestTrackerPartialAndHeadersPending(t *testing.T) {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x88, 0x88}, EndHeaders: false})
	fr.WriteContinuation(1, true, []byte{0x88})
	fr.WriteData(1, true, []byte("abc"))
	b := buf.Bytes()
	hdrEnd, blockEnd := 9+2, 9+2+9+1
	var tr Tracker
	for i := range b {
		tr.Next(b[i : i+1])
		n := i + 1
		h, partial := tr.Partial()
		wantPartial := (n >= 9 && n < hdrEnd) || (n >= hdrEnd+9 && n < blockEnd) || (n >= blockEnd+9 && n < len(b))
		if partial != wantPartial {
			t.Fatalf("after %d bytes: Partial = %v %v, want %v", n, h, partial, wantPartial)
		}
		id, pending := tr.HeadersPending()
		if want := n >= 9 && n < blockEnd; pending != want || (pending && id != 1) {
			t.Fatalf("after %d bytes: HeadersPending = %d %v, want %v", n, id, pending, want)
		}
	}
}
