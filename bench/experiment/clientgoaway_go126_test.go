//go:build !go1.27

package experiment

import "testing"

// x/net's client replays a request it never wrote, whatever its body.
func checkUnsentRequestOnGoAway(t *testing.T, err error) {
	if err != nil {
		t.Errorf("x/net's client failed a request it never wrote: %v", err)
	}
}
