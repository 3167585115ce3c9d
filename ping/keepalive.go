package ping

import "time"

// DefaultKeepaliveTimeout is how long a keepalive PING waits for its ACK when
// no timeout is configured.
const DefaultKeepaliveTimeout = 20 * time.Second
