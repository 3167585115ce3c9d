package main

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestResponseBody: the stock server's -response-bytes takes the values
// examples/server takes (its TestResponseBytes), with the same answers: 0
// is "ok", 1 and the maximum are that many bytes, -1, one past the maximum
// and math.MaxInt64 are refused with an error naming the flag and value.
func TestResponseBody(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{0, 2}, {1, 1}, {maxResponseBytes, maxResponseBytes}, {-1, -1}, {maxResponseBytes + 1, -1}, {math.MaxInt64, -1},
	} {
		b, err := responseBody(tc.n)
		switch {
		case tc.want < 0:
			if err == nil || !strings.Contains(err.Error(), "-response-bytes") || !strings.Contains(err.Error(), strconv.Itoa(tc.n)) {
				t.Errorf("responseBody(%d): %v, want an error naming the flag and the value", tc.n, err)
			}
		case err != nil || len(b) != tc.want || (tc.n == 0 && string(b) != "ok"):
			t.Errorf("responseBody(%d): %d bytes, %v; want %d", tc.n, len(b), err, tc.want)
		}
	}
}
