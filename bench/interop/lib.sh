# Shared by the bench/interop scripts: build the bench server once, start it,
# stop it by PID. Source it; it sets $work (a temporary directory removed on
# exit) and $server_bin.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

work=$(mktemp -d)
server_pids=()
cleanup() {
	local pid
	for pid in "${server_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

server_bin=$work/server
go build -o "$server_bin" ./bench/interop/server

# start_server NAME ARGS...: starts the bench server with ARGS, logging to
# $work/NAME.out (stdout) and $work/NAME.err (h2lifecycle's log); sets
# $addr and $server_pid.
start_server() {
	local name=$1
	shift
	"$server_bin" "$@" >"$work/$name.out" 2>"$work/$name.err" &
	server_pid=$!
	server_pids+=("$server_pid")
	local i
	for i in $(seq 100); do
		addr=$(awk '/^listening on /{print $3; exit}' "$work/$name.out")
		[ -n "$addr" ] && return 0
		sleep 0.05
	done
	echo "server $name did not start" >&2
	cat "$work/$name.err" >&2
	return 1
}

# stop_server NAME: stops the server started last (SIGTERM, by PID) and
# waits for it; its last stdout line is the server's request count.
stop_server() {
	kill -TERM "$server_pid"
	wait "$server_pid" || true
}

machine() {
	echo "machine: $(nproc) cores, $(uname -sr); $(go version)"
}
