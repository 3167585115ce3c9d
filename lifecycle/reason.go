package lifecycle

// Reason is why a connection ends. Reasons are fixed strings, safe to grep
// for and to use as metric labels; GOAWAY(2^31-1) carries a drain's reason
// as its debug data.
type Reason string

// The reasons a connection ends for.
const (
	ReasonIdle             Reason = "idle"              // no open stream for Policy.IdleTimeout
	ReasonMaxAge           Reason = "max_age"           // older than Policy.MaxConnectionAge
	ReasonMaxStreams       Reason = "max_streams"       // Policy.MaxStreamsPerConnection streams served
	ReasonHeaderTimeout    Reason = "header_timeout"    // preface, SETTINGS or a header block too slow
	ReasonKeepaliveTimeout Reason = "keepalive_timeout" // no ACK to a keepalive PING
	ReasonTooManyPings     Reason = "too_many_pings"    // PING flood (ping enforcement)
	ReasonShutdown         Reason = "shutdown"          // the server is shutting down
	ReasonRequested        Reason = "requested"         // a drain asked for through the API (server.Server.Drain)
	ReasonPeer             Reason = "peer_goaway"       // the peer sent GOAWAY
	ReasonServer           Reason = "server_goaway"     // the HTTP/2 server sent a GOAWAY of its own
	ReasonError            Reason = "protocol_error"    // the HTTP/2 server sent an error GOAWAY
	ReasonClosed           Reason = "peer_closed"       // the peer closed the connection
)
