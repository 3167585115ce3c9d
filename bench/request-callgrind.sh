#!/usr/bin/env bash
# Instructions (and simulated cache misses) per request under h2load, stock
# and h2lifecycle served by one binary (bench/connserver -kind
# stock|h2lifecycle -metrics=false) under valgrind's callgrind with
# GOMAXPROCS=1. Each kind is run at two request counts on fresh processes;
# the difference of the totals divided by the difference of the counts is
# the cost per request, free of the startup, the handshakes and the exit.
#
#   bench/request-callgrind.sh                          # TLS, -c 64 -m 100, 40000 and 70000 requests
#   TRANSPORT=h2c N1=20000 N2=50000 bench/request-callgrind.sh
#   H2LOAD_ARGS="-c 8 -m 32" bench/request-callgrind.sh
#   CACHE=0 bench/request-callgrind.sh                  # instructions only (about 2x faster)
#   OUT=dir bench/request-callgrind.sh                  # keep the callgrind files in dir
#
# Prints per kind the events per request (Ir: instructions; with the cache
# simulation also D1mr/D1mw: first-level data misses, DLmr/DLmw: last-level),
# then the functions whose instructions per request differ most between the
# kinds (bench/cgdiff.py). Callgrind slows the server about 50 times, so
# every read finds the socket buffer full: these are counts of work, not of
# a timing regime. Callgrind sometimes dies on a signal in a Go program
# (threads.c: "Assertion 'sigNum == ...' failed"); a run that does is
# repeated, at most 3 times. Takes about 12 minutes with the defaults.
# Loopback only; every step is bounded.
source "$(dirname "$0")/connlib.sh"
TRANSPORT=${TRANSPORT:-tls}
N1=${N1:-40000}
N2=${N2:-70000}
CACHE=${CACHE:-1}
read -r -a H2LOAD_ARGS <<<"${H2LOAD_ARGS:--c 64 -m 100}"
OUT=${OUT:-$work/callgrind}
mkdir -p "$OUT"
for tool in valgrind h2load; do
	if ! command -v "$tool" >/dev/null; then
		pkg=valgrind
		[ "$tool" = h2load ] && pkg=nghttp2-client
		echo "# $tool missing: apt-get install -y $pkg" >&2
		apt-get install -y "$pkg" >/dev/null || { apt-get update >/dev/null && apt-get install -y "$pkg" >/dev/null; }
	fi
done
go build -o "$work/connserver" ./bench/connserver
scheme=http tlsargs=()
if [ "$TRANSPORT" = tls ]; then
	(cd "$work" && go run "$(go env GOROOT)/src/crypto/tls/generate_cert.go" \
		--host 127.0.0.1 --ecdsa-curve P256 --duration 24h >/dev/null 2>&1)
	scheme=https tlsargs=(-tls-cert "$work/cert.pem" -tls-key "$work/key.pem")
fi
vgargs=(--tool=callgrind)
[ "$CACHE" = 1 ] && vgargs+=(--cache-sim=yes)
machine
echo "# $(valgrind --version); h2load ${H2LOAD_ARGS[*]}, $N1 and $N2 requests after 2000 of warm-up; $TRANSPORT; commit $(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)"

# one KIND N: callgrind's totals line of a server that served N requests.
one() {
	local kind=$1 n=$2 f=$OUT/$TRANSPORT-$1-$2.out try
	for try in 1 2 3; do
		rm -f "$f" "$work/srv.in" && mkfifo "$work/srv.in"
		GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 timeout 1200 valgrind "${vgargs[@]}" --callgrind-out-file="$f" \
			"$work/connserver" -kind "$kind" -metrics=false "${tlsargs[@]}" \
			<"$work/srv.in" >"$work/cs.out" 2>"$work/cs.err" &
		local pid=$!
		started_pids+=("$pid")
		exec 4>"$work/srv.in"
		local addr
		addr=$(await_listening "$work/cs.out" "$work/cs.err" connserver) || return 1
		timeout 300 h2load -n 2000 -c 8 -m 32 "$scheme://$addr/" >/dev/null 2>&1 || true
		timeout 900 h2load -n "$n" "${H2LOAD_ARGS[@]}" "$scheme://$addr/" >"$work/h2load.out" 2>&1 || true
		exec 4>&- # end of stdin: connserver exits, callgrind writes its file
		wait "$pid" 2>/dev/null || true
		if grep -q 'Assertion' "$work/cs.err"; then
			echo "# callgrind died ($kind, $n, try $try); again" >&2
			continue
		fi
		local ok
		ok=$(awk '/^requests:/{print $8}' "$work/h2load.out")
		if [ "$ok" != "$n" ]; then
			echo "# $kind: $ok of $n requests succeeded; again" >&2
			continue
		fi
		sed -n 's/^totals: *//p' "$f"
		return 0
	done
	echo "$kind $n: no good run in 3 tries" >&2
	return 1
}

for kind in stock h2lifecycle; do
	r1=$(one "$kind" "$N1")
	r2=$(one "$kind" "$N2")
	read -r -a t1 <<<"$r1"
	read -r -a t2 <<<"$r2"
	read -r -a names <<<"$(sed -n 's/^events: *//p' "$OUT/$TRANSPORT-$kind-$N2.out")"
	line="$kind per request:"
	for i in "${!names[@]}"; do
		line+=" ${names[$i]} $(awk -v a="${t1[$i]}" -v b="${t2[$i]}" -v n=$((N2 - N1)) 'BEGIN { printf "%.0f", (b - a) / n }')"
	done
	echo "$line"
done
echo
echo "# instructions per request, the functions that differ most (stock, h2lifecycle, difference):"
python3 bench/cgdiff.py "$OUT" "$TRANSPORT" "$N1" "$N2" 30
