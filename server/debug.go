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
		if !s.wrapped() {
			http.Error(w, ErrNotWrapped.Error(), http.StatusInternalServerError)
			return
		}
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
			// TLS HTTP/2 connections served without supervision
			// (UnsupervisedHTTP2): zero unless misconfigured.
			Unsupervised uint64 `json:"unsupervised_http2_connections"`
		}{time.Now().UTC().Format(time.RFC3339Nano), !s.notReady.Load(), draining, len(conns), conns, s.unsupervised.Load()}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(doc)
	})
}
