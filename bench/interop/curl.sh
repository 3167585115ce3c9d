#!/usr/bin/env bash
# Seed 004 with curl: one curl process fetches /ok in sequence over one TLS
# HTTP/2 connection (libcurl + nghttp2 reuse it as long as the server keeps
# it), starts spaced by --rate about the server's idle timeout, half of them
# POSTs with a small body, so that some requests leave just as the idle
# close does. Counts curl's "Error in the HTTP2 framing layer" (exit 16)
# and other failures, and the connections curl had to open.
#
#   bench/interop/curl.sh [SEQUENCES [REQUESTS]]   # default 10 sequences of 50 per rate
#   KINDS=h2lifecycle bench/interop/curl.sh         # one server only
source "$(dirname "$0")/lib.sh"
sequences=${1:-10}
requests=${2:-50}
idle=100ms
rates="600 599 597 594 590"   # per minute: 100ms, 100.2, 100.5, 101, 101.7
machine
curl --version | head -1
one_sequence() { # url rate
	local args=(--rate "$2/m" --max-time 60) i
	for ((i = 0; i < requests; i++)); do
		[ "$i" -gt 0 ] && args+=(--next)
		args+=(--http2 --insecure --silent --show-error --write-out '%{http_code} %{num_connects}\n' --output /dev/null)
		[ $((i % 2)) -eq 1 ] && args+=(--data-binary "payload-$i")
		args+=("$1")
	done
	curl "${args[@]}" 2>&1 || true
}
echo
echo "| server | requests | ok | \"Error in the HTTP2 framing layer\" | other errors | connections |"
echo "|---|---|---|---|---|---|"
for kind in ${KINDS:-stock h2lifecycle}; do
	start_server "$kind" -kind "$kind" -tls -idle-timeout "$idle"
	out=$work/$kind.curl
	: >"$out"
	for ((s = 0; s < sequences; s++)); do
		for rate in $rates; do
			one_sequence "https://$addr/ok" "$rate" >>"$out"
		done
	done
	stop_server
	total=$((sequences * requests * $(wc -w <<<"$rates")))
	ok=$(grep -c '^200 ' "$out" || true)
	framing=$(grep -c 'Error in the HTTP2 framing layer' "$out" || true)
	other=$(grep '^curl: ' "$out" | grep -vc 'Error in the HTTP2 framing layer' || true)
	conns=$(grep -c ' 1$' "$out" || true)
	echo "| $kind (idle timeout $idle, TLS) | $total | $ok | $framing | $other | $conns |"
	grep '^curl: ' "$out" | sort | uniq -c | sed 's/^/    /' >&2 || true
done
