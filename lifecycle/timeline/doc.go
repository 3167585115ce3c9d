// Package timeline draws what happened to a set of HTTP/2 connections as
// they drained: one row per connection on a shared time axis, so that an
// operator can see a shutdown at a glance — which connections waited for
// their PING ACK, which waited for a slow stream, which the grace deadline
// cut, and how a spread staggered the drains.
//
// Each row shows the steps of the two-phase drain (RFC 9113 §6.8) recorded
// in the connection's lifecycle.Report: GOAWAY(2^31-1)+PING on the wire, the
// PING ACK (or the ping timeout standing in for it), the final
// GOAWAY(last stream), the last stream's end, our FIN, and the close; and,
// underneath, the four phases the logs name: notice (drain start to ACK),
// settle (ACK to final GOAWAY), final (final GOAWAY to FIN: the streams in
// flight finish) and closing (FIN to close: waiting for the peer's FIN).
//
// One axis serves every row, in milliseconds, or in seconds once its ticks
// are a second apart or more. A row whose drain spans less than 3 % of the
// axis (a 1 ms loopback drain in a shutdown cut at a 30 s grace) is drawn
// again on its own scale, in a framed inset beside it labelled with the
// span it shows ("20.4 ms zoomed"). testdata/drain-1ms.png and
// drain-30s.png show both cases (testdata/render.sh makes them with
// headless Chromium).
//
// [SVG] writes the picture as a self-contained SVG file: no scripts, no
// external fonts or styles, presentation attributes only, so that browsers,
// image viewers and code hosts all render it the same. Hovering a row in a
// browser shows its exact numbers.
package timeline
