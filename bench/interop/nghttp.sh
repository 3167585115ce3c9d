#!/usr/bin/env bash
# The two-phase drain as nghttp2's own client sees it (nghttp -v), beside
# the stock server's single GOAWAY: one request to /drain, which makes the
# server end its connections 50ms after the request arrives while the
# response (200ms) is still in flight. Frames only (PRIORITY frames and
# header fields trimmed). h2c and TLS; markdown on stdout.
#
#   bench/interop/nghttp.sh        # needs nghttp (Debian: nghttp2-client)
source "$(dirname "$0")/lib.sh"
command -v nghttp >/dev/null || { echo "nghttp not installed (apt-get install nghttp2-client)" >&2; exit 1; }
machine
nghttp --version
for kind in h2lifecycle stock; do
	for tls in "" -tls; do
		start_server "$kind$tls" -kind "$kind" $tls
		scheme=http transport=h2c
		[ -n "$tls" ] && scheme=https transport=TLS
		url="$scheme://$addr/drain?ms=200&after=50"
		echo
		echo "### $kind, $transport"
		echo
		echo '```'
		echo "\$ nghttp -v '$url'"
		nghttp -v "$url" 2>&1 |
			grep -E '^\[|last_stream_id|opaque_data|; ACK|END_STREAM' |
			grep -vE 'PRIORITY frame|recv \(stream_id|TLS|ALPN|Connected' || true
		echo '```'
		stop_server
	done
done
