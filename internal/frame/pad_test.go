package frame

import "testing"

// TestHeadersPadTooLong: the tracker keeps a padded HEADERS frame's pad
// length, fed in any chunks, and HeadersPadTooLong says what the HTTP/2
// server's framer makes of it: a stream error only when the pad is longer
// than the payload after the pad length and priority fields.
func TestHeadersPadTooLong(t *testing.T) {
	hdr := func(length int, flags Flags) []byte {
		return []byte{0, 0, byte(length), byte(TypeHeaders), byte(flags), 0, 0, 0, 1}
	}
	cases := []struct {
		name    string
		frame   []byte
		tooLong bool
	}{
		{"not padded", append(hdr(3, FlagEndHeaders), 'a', 'b', 'c'), false},
		{"pad fits", append(hdr(4, FlagPadded), 2, 'a', 0, 0), false},
		{"pad fills the payload", append(hdr(3, FlagPadded), 2, 0, 0), false},
		{"pad one too long", append(hdr(3, FlagPadded), 3, 0, 0), true},
		{"pad 255, short payload", append(hdr(3, FlagPadded), 255, 'a', 'b'), true},
		{"priority counted", append(hdr(7, FlagPadded|FlagPriority), 1, 0, 0, 0, 0, 16, 0), false},
		{"priority counted, pad too long", append(hdr(7, FlagPadded|FlagPriority), 2, 0, 0, 0, 0, 16, 0), true},
		{"too short for the priority: a connection error", append(hdr(3, FlagPadded|FlagPriority), 0, 0, 0), false},
		{"empty payload: a connection error", hdr(0, FlagPadded), false},
	}
	for _, c := range cases {
		for split := 1; split <= len(c.frame); split++ {
			var tr Tracker
			var done bool
			for off := 0; off < len(c.frame); {
				end := min(off+split, len(c.frame))
				var n int
				n, done = tr.Next(c.frame[off:end])
				off += n
			}
			if !done {
				t.Fatalf("%s: the frame did not end", c.name)
			}
			if got := tr.Last().HeadersPadTooLong(); got != c.tooLong {
				t.Errorf("%s, in chunks of %d: HeadersPadTooLong() = %v, want %v", c.name, split, got, c.tooLong)
			}
		}
	}
}
