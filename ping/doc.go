// Package ping keeps the books of the PINGs h2lifecycle sends on a
// connection: recognisable opaque data, the pings still outstanding, and a
// smoothed round-trip-time estimate from their ACKs.
//
// Opaque data (RFC 9113 §6.7: the receiver echoes it in the ACK) starts with
// the tag "h2", so a capture shows whose PING it is, followed by six bytes
// derived from a per-connection random key and a sequence number: a peer
// cannot forge the ACK of a PING before it has seen it, and the ACKs of the
// server's own keepalive PINGs are never mistaken for ours.
//
// The RTT estimate follows RFC 6298 (SRTT and RTTVAR with gains 1/8 and 1/4);
// [Tracker.Timeout] turns it into a timeout with a floor, the way a TCP
// retransmission timeout is derived.
package ping
