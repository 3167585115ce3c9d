// Package drain holds the two-phase GOAWAY drain of one HTTP/2 connection as a
// pure state machine, and the settings and reports around it.
//
// RFC 9113 §6.8: a server that closes a connection tells the client the last
// stream it processed, and the client may retry the streams above it. The
// client may already have sent a new stream when the server writes that
// GOAWAY, so a single GOAWAY(last) followed by a close fails requests that were
// on the wire. The two-phase drain closes that window:
//
//  1. GOAWAY(2^31-1, NO_ERROR) tells the client to stop opening streams,
//     and a PING right behind it measures when the client has seen it.
//  2. When the PING ACK arrives, every stream the client opened before it saw
//     the first GOAWAY has arrived too — or nearly: a client may number a
//     stream before it reads the GOAWAY and write it after its ACK, so the
//     server waits for a short quiet period (Settle). Then it sends
//     GOAWAY(last processed stream). If the ACK does not come within the ping
//     timeout, the drain goes on without it.
//  3. In-flight streams finish, up to a grace deadline. Then the server shuts
//     its side of the connection, waits briefly for the client's FIN, and
//     closes; at the grace deadline what is left is reset.
//
// [Sequence] is that machine: events in (with the time they happened), actions
// out, and one deadline at which to call [Sequence.Tick]. It performs no I/O
// and starts no timers, so every ordering of events can be tested.
package drain
