//go:build go1.27

package experiment

import (
	"strings"
	"testing"
)

// Go 1.27's client closes the body of a request it never wrote when the
// connection goes away, then cannot rewind it to replay the request. If
// this starts failing, Go fixed it: Counts.NotSent may then go.
func checkUnsentRequestOnGoAway(t *testing.T, err error) {
	if err == nil || !strings.Contains(err.Error(), "cannot rewind body") {
		t.Errorf("err = %v; pinned Go 1.27 behaviour: net/http: cannot rewind body after connection loss", err)
	}
}
