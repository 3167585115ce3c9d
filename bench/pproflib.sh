# pprof helpers shared by bench/churn-profile.sh and bench/throughput.sh.
# Source it; BIN must name the binary whose profiles are read.

# h2lifecycle's frames, and the I/O under them that stock does as well.
H2L='h2lifecycle/h2lifecycle/(lifecycle|internal/frame|internal/h2hook)\.|h2lifecycle/h2lifecycle/server\.(\(\*Server\)\.(supervise|newHandle|configureHandle|release|track|untrack|logf)|\(\*handle\)|handleHTTP2|earliestLimit)'
IO='^(syscall|internal/poll|crypto/tls|runtime\.netpoll)'

# share PROF FOCUS [IGNORE]: the percentage of all samples that pprof keeps
# (samples with a FOCUS frame on the stack and no IGNORE frame).
share() {
	local prof=$1 focus=$2 ignore=${3:-}
	local args=(-top -nodecount=1 -focus="$focus")
	[ -n "$ignore" ] && args+=(-ignore="$ignore")
	go tool pprof "${args[@]}" "$BIN" "$prof" 2>/dev/null |
		sed -n 's/^Showing nodes accounting for [^,]*, \([0-9.]*%\) of .*/\1/p' | head -1
}

# flatshare PROF REGEX: the percentage of all samples whose leaf frame
# matches REGEX (the functions' own code).
flatshare() {
	local prof=$1 re=$2
	go tool pprof -top -nodecount=100000 "$BIN" "$prof" 2>/dev/null |
		awk -v re="$re" '$2 ~ /%$/ && $6 ~ re { sub("%", "", $2); s += $2 } END { printf "%.2f%%\n", s }'
}

# cumshare PROF REGEX FOCUS IGNORE: REGEX's cumulative share within the kept samples.
cumshare() {
	local prof=$1 node=$2 focus=$3 ignore=$4
	go tool pprof -top -cum -nodecount=2000 -focus="$focus" -ignore="$ignore" "$BIN" "$prof" 2>/dev/null |
		awk -v n="$node" '$NF ~ n { print $5; exit }'
}
