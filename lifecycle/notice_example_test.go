package lifecycle_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// A Server-Sent Events handler that ends its stream when its connection
// begins to drain, before the grace deadline would cut it: the client's
// EventSource reconnects, on a new connection, and resumes from the last
// event id. On HTTP/1.1 the notice is nil and never fires.
func ExampleDrainNotice() {
	events := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		drain := lifecycle.DrainNotice(r.Context())
		rc := http.NewResponseController(w)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(w, "id: %d\ndata: tick\n\n", i)
			if rc.Flush() != nil {
				return
			}
			select {
			case <-drain: // the connection is draining: end cleanly now
				fmt.Fprint(w, "retry: 100\n\n")
				return
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	})
	http.Handle("/events", events)
}
