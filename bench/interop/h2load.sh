#!/usr/bin/env bash
# nghttp2's load generator drops its own queued requests on any GOAWAY
# (DESIGN rule 10): h2load stops using a connection at its first GOAWAY,
# even h2lifecycle's GOAWAY(2^31-1) that says every stream is still
# accepted, fails every request it has not sent, and does not reconnect.
# The server's side shows that none of those was lost by the server: it
# records (-record) the streams that reached it, which it served, and which
# equal h2load's "succeeded"; h2load's "started" counts requests handed to
# nghttp2, sent or not. h2lifecycle's drain log reports streams_cut 0.
#
#   bench/interop/h2load.sh        # needs h2load (Debian: nghttp2-client)
source "$(dirname "$0")/lib.sh"
command -v h2load >/dev/null || { echo "h2load not installed (apt-get install nghttp2-client)" >&2; exit 1; }
machine
h2load --version | head -1
run() { # name server-args... -- trigger
	local name=$1
	shift
	local sargs=()
	while [ "$1" != "--" ]; do sargs+=("$1"); shift; done
	shift
	local trigger=$1
	start_server "$name" "${sargs[@]}"
	echo
	echo "### $name: server ${sargs[*]}; $trigger"
	echo
	echo '```'
	local trigger_pid=
	if [ "$trigger" = "drain at 300ms" ]; then
		(sleep 0.3; curl -s --http2-prior-knowledge "http://$addr/drain?after=0&ms=0" >/dev/null) &
		trigger_pid=$!
	fi
	echo "\$ h2load -n 100000 -c 2 -m 32 http://$addr/ok"
	h2load -n 100000 -c 2 -m 32 "http://$addr/ok" 2>&1 | grep -E '^(finished|requests|status codes)'
	[ -z "$trigger_pid" ] || wait "$trigger_pid"
	stop_server
	echo "server: $(grep -E '^(recorded|served)' "$work/$name.out" | paste -sd';')"
	if grep -q 'connection drained' "$work/$name.err"; then
		echo "h2lifecycle drain log: $(grep -c 'connection drained' "$work/$name.err") connections drained, streams_cut: $(grep -o '"streams_cut":[0-9]*' "$work/$name.err" | awk -F: '{s+=$2} END {print s+0}')"
	fi
	echo '```'
}
run h2lifecycle-max-age -kind h2lifecycle -record -max-connection-age 200ms -- "max connection age 200ms"
run h2lifecycle-drain -kind h2lifecycle -record -- "drain at 300ms"
run stock-shutdown -kind stock -record -- "drain at 300ms"
