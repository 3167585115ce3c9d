#!/usr/bin/env bash
# Seed 004 in a real browser: headless Chromium loads the bench server's page
# over TLS (HTTP/2), which fetches /ok N times in sequence, pausing 280–320ms
# before each (the server's idle timeout is 300ms, so about half the pauses
# outlast it and the request races the idle close), odd fetches POSTs with a
# 1 KiB string body (an ordinary body, not a stream: DESIGN rule 10). The
# page reports its failed fetches; Chromium's net log shows what it retried
# on its own (ERR_HTTP2_SERVER_REFUSED_STREAM: a request that crossed a
# GOAWAY), summarized by bench/interop/netlog. Stock server, then h2lifecycle.
#
#   bench/interop/browser.sh [N [LO_MS HI_MS [IDLE]]]   # default 200 280 320 300ms
#   KINDS=h2lifecycle NETLOG_DIR=/tmp/logs bench/interop/browser.sh 50
#
# KINDS picks the servers (default "stock h2lifecycle"); NETLOG_DIR keeps
# the net logs and server logs.
#
# Needs Debian's chromium (apt-get install chromium). Loopback only; about
# N × 0.3 s per server.
source "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null || { echo "chromium not installed (apt-get install chromium)" >&2; exit 1; }
n=${1:-200}
lo=${2:-280}
hi=${3:-320}
idle=${4:-300ms}
machine
chromium --version 2>/dev/null
go build -o "$work/netlog" ./bench/interop/netlog
for kind in ${KINDS:-stock h2lifecycle}; do
	start_server "$kind" -kind "$kind" -tls -idle-timeout "$idle"
	profile=$work/profile-$kind
	mkdir -p "$profile"
	netlog=$work/netlog-$kind.json
	url="https://$addr/?n=$n&lo=$lo&hi=$hi"
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-background-timer-throttling --disable-renderer-backgrounding \
		--ignore-certificate-errors --user-data-dir="$profile" \
		--log-net-log="$netlog" --net-log-capture-mode=Everything \
		"$url" >"$work/chromium-$kind.log" 2>&1 &
	chromium_pid=$!
	limit=$((n * hi / 1000 + 60))
	for ((i = 0; i < limit * 10; i++)); do
		grep -q '^REPORT ' "$work/$kind.out" && break
		sleep 0.1
	done
	kill -TERM "$chromium_pid" 2>/dev/null || true
	wait "$chromium_pid" 2>/dev/null || true
	stop_server
	echo
	echo "### $kind, idle timeout $idle, TLS: $n fetches, pauses ${lo}–${hi}ms"
	echo
	echo '```'
	echo "page: $(grep '^REPORT ' "$work/$kind.out" | cut -c8- || echo 'no report (timed out)')"
	echo "server: $(tail -1 "$work/$kind.out")"
	if grep -q 'connection drained' "$work/$kind.err"; then
		echo "h2lifecycle: $(grep -c 'connection drained' "$work/$kind.err") connections drained (reasons: $(grep -o '"reason":"[a-z_]*"' "$work/$kind.err" | sort | uniq -c | tr -s ' ' | paste -sd, -)), streams cut: $(grep -o '"streams_cut":[0-9]*' "$work/$kind.err" | awk -F: '{s+=$2} END {print s+0}')"
	fi
	echo "net log ($(du -h "$netlog" | cut -f1)):"
	"$work/netlog" "$netlog" | sed 's/^/  /'
	echo '```'
	if [ -n "${NETLOG_DIR:-}" ]; then
		mkdir -p "$NETLOG_DIR"
		cp "$netlog" "$work/$kind.err" "$work/$kind.out" "$NETLOG_DIR/"
	fi
done
