package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// DebugHandler serves the live state of the server as JSON, for operators:
// readiness, whether it is draining, and every supervised connection's
// snapshot (state, age, open streams, last stream id, RTT). Mount it on an
// internal port or behind authentication: it shows client addresses.
func (s *Server) DebugHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		draining := s.draining
		s.mu.Unlock()
		conns := s.Snapshot()
		doc := struct {
			Time        string               `json:"time"`
			Ready       bool                 `json:"ready"`
			Draining    bool                 `json:"draining"`
			Count       int                  `json:"connections_count"`
			Connections []lifecycle.Snapshot `json:"connections"`
		}{time.Now().UTC().Format(time.RFC3339Nano), !s.notReady.Load(), draining, len(conns), conns}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(doc)
	})
}
