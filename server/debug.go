package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// DebugHandler serves the live state of the server as JSON, for operators:
// readiness, whether it is draining and the drain's deadline, the totals
// (connections, open streams, connections by state), and every supervised
// connection's snapshot (state, age, open streams, last stream id, RTT).
// Mount it on an internal port or behind authentication: it shows client
// addresses.
func (s *Server) DebugHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.wrapped() {
			http.Error(w, ErrNotWrapped.Error(), http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		draining, deadline := s.draining, s.deadline
		s.mu.Unlock()
		conns := s.Snapshot()
		now := time.Now()
		doc := struct {
			Time        string               `json:"time"`
			Ready       bool                 `json:"ready"`
			Draining    bool                 `json:"draining"`
			Deadline    string               `json:"drain_deadline,omitempty"`
			DeadlineIn  string               `json:"drain_deadline_in,omitempty"` // negative once passed
			Count       int                  `json:"connections_count"`
			Totals      drainTotals          `json:"totals"`
			Connections []lifecycle.Snapshot `json:"connections"`
			// HTTP/2 connections (TLS and h2c) served without supervision
			// (UnsupervisedHTTP2): zero unless misconfigured.
			Unsupervised uint64 `json:"unsupervised_http2_connections"`
		}{Time: now.UTC().Format(time.RFC3339Nano), Ready: !s.notReady.Load(), Draining: draining,
			Count: len(conns), Totals: totalsOf(conns), Connections: conns, Unsupervised: s.unsupervised.Load()}
		if draining {
			doc.Deadline = deadline.UTC().Format(time.RFC3339Nano)
			doc.DeadlineIn = deadline.Sub(now).Round(time.Millisecond).String()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(doc)
	})
}
