package idle

import (
	"fmt"
	"time"
)

// Reasons a connection is drained for. They are fixed strings, safe to grep
// for and to use as metric labels.
const (
	ReasonIdle     = "idle"     // no open stream for IdleTimeout
	ReasonShutdown = "shutdown" // the server is shutting down
	ReasonPeer     = "peer_goaway"
	ReasonServer   = "server_goaway" // the HTTP/2 server sent a GOAWAY of its own
	ReasonError    = "protocol_error"
	ReasonClosed   = "peer_closed" // the peer closed the connection
	ReasonRequest  = "requested"   // a drain asked through the API
)

// Policy is the connection policy. The zero value imposes no limit.
type Policy struct {
	// IdleTimeout drains a connection that has had no open stream for this
	// long (reason "idle"). Idleness is the HTTP/2 server's own view (its
	// active/idle connection state), not a count of frames. Zero means no
	// idle timeout; the server package then applies http.Server.IdleTimeout
	// as net/http would.
	IdleTimeout time.Duration
}

// Validate reports the first setting that is out of range, naming it.
func (p Policy) Validate() error {
	if p.IdleTimeout < 0 {
		return fmt.Errorf("idle: idle_timeout must be >= 0, got %v", p.IdleTimeout)
	}
	return nil
}
