# Shared by bench/throughput.sh, bench/memory/run.sh and bench/drain/run.sh.
# Source it. It sets $work (a temporary directory removed on exit), stops
# every process it started (by PID) on exit, and provides:
#
#   machine                 one line: cores, kernel, Go
#   wait_quiet              wait until the 1-minute load average is below
#                           $QUIET_LOAD (default 1.0), polling every minute for
#                           at most $QUIET_WAIT seconds (default 3600); then go
#                           on anyway, saying so. QUIET_LOAD=inf skips it.
#   build_conn_tools        build bench/connserver and bench/idleclient
#   srv_start KIND [ARGS]   start connserver; sets $srv_pid, $srv_addr
#   srv_cmd CMD             send a command, print its JSON answer
#   srv_stop                quit connserver and wait for it
#   json FIELD <<< LINE     one numeric or string field of a JSON line
#   median, spread          of the numbers on stdin: the median; "median [lowest-highest]"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

work=$(mktemp -d)
started_pids=()
cleanup() {
	local pid
	exec 3>&- 2>/dev/null || true
	for pid in "${started_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

machine() {
	echo "machine: $(nproc) cores, $(uname -sr), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(go version)"
}

wait_quiet() {
	local limit=${QUIET_LOAD:-1.0} max=${QUIET_WAIT:-3600} waited=0 load
	[ "$limit" = inf ] && return 0
	while :; do
		load=$(cut -d' ' -f1 /proc/loadavg)
		if awk -v l="$load" -v m="$limit" 'BEGIN{exit !(l < m)}'; then
			return 0
		fi
		if [ "$waited" -ge "$max" ]; then
			echo "# load average $load still >= $limit after ${waited}s: measuring anyway" >&2
			return 0
		fi
		echo "# load average $load >= $limit: waiting (${waited}s so far)" >&2
		sleep 60
		waited=$((waited + 60))
	done
}

build_conn_tools() {
	go build -o "$work/connserver" ./bench/connserver
	go build -o "$work/idleclient" ./bench/idleclient
}

srv_start() {
	local kind=$1
	shift
	rm -f "$work/srv.in" "$work/srv.out" "$work/srv.err"
	mkfifo "$work/srv.in"
	"$work/connserver" -kind "$kind" "$@" <"$work/srv.in" >"$work/srv.out" 2>"$work/srv.err" &
	srv_pid=$!
	started_pids+=("$srv_pid")
	exec 3>"$work/srv.in"
	srv_addr=$(await_listening "$work/srv.out" "$work/srv.err" connserver)
}

# await_listening OUT ERR NAME: prints the address a server announced with
# "listening on HOST:PORT" in OUT, waiting at most 10 s; else shows ERR and
# fails.
await_listening() {
	local i addr
	for i in $(seq 200); do
		addr=$(awk '/^listening on /{print $3; exit}' "$1" 2>/dev/null)
		if [ -n "$addr" ]; then
			echo "$addr"
			return 0
		fi
		sleep 0.05
	done
	echo "$3 did not start" >&2
	cat "$2" >&2
	return 1
}

srv_cmd() {
	local before i
	before=$(wc -l <"$work/srv.out")
	echo "$*" >&3
	for i in $(seq 1200); do # 60 s
		if [ "$(wc -l <"$work/srv.out")" -gt "$before" ]; then
			tail -n 1 "$work/srv.out"
			return 0
		fi
		sleep 0.05
	done
	echo "connserver did not answer $*" >&2
	return 1
}

srv_stop() {
	echo quit >&3 || true
	exec 3>&-
	wait "$srv_pid" 2>/dev/null || true
}

json() {
	local line
	read -r line
	sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[-0-9.e+]*\).*/\1/p" <<<"$line" | tr -d '"'
}

median() { # numbers on stdin
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

spread() { # numbers on stdin: "median [lowest-highest]"
	sort -g | awk '{a[NR]=$1} END {m = NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; print m " [" a[1] "-" a[NR] "]"}'
}
