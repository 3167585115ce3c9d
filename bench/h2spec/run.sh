#!/usr/bin/env bash
# h2spec, stock vs h2lifecycle: runs every h2spec case against the stock
# server (net/http + http2.ConfigureServer, bench/h2spec/stock) and against
# examples/server (h2lifecycle), same handler, over h2c and over TLS, on the
# toolchain in use (GOTOOLCHAIN=go1.27.4 for Go 1.27). Fails if h2lifecycle
# misses a case the stock server passes (see compare/main.go for how flaky
# cases are re-run). Markdown for RESULTS.md goes to stdout.
#
#   bench/h2spec/run.sh                       # both transports
#   H2SPEC_SERVECONN=1 bench/h2spec/run.sh    # also the bare ServeConn loop (DESIGN rule 11)
#   H2SPEC=/path/to/h2spec bench/h2spec/run.sh
#
# h2spec is a tool, not a module dependency: it is installed into a
# temporary GOBIN unless $H2SPEC names one. Loopback only; about a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "${H2SPEC:-}" ]; then
	# Outside the module (GOFLAGS cleared, toolchain pinned to the local
	# one): the tool's own go.mod decides its dependencies.
	(cd "$work" && GOFLAGS= GOTOOLCHAIN=local GOBIN="$work/bin" \
		go install github.com/summerwind/h2spec/cmd/h2spec@latest)
	H2SPEC=$work/bin/h2spec
fi

go build -o "$work/stock" ./bench/h2spec/stock
go build -o "$work/h2lifecycle" ./examples/server
go build -o "$work/compare" ./bench/h2spec/compare
# A self-signed certificate for 127.0.0.1, from the standard library's
# generator: no openssl needed.
(cd "$work" && go run "$(go env GOROOT)/src/crypto/tls/generate_cert.go" \
	--host 127.0.0.1 --ecdsa-curve P256 --duration 24h >/dev/null 2>&1)

extra=()
if [ -n "${H2SPEC_SERVECONN:-}" ]; then
	extra+=(-serveconn)
fi

echo "## $(go version) — $("$H2SPEC" --version | head -1)"
echo
status=0
for transport in h2c tls; do
	args=(-h2spec "$H2SPEC" -stock "$work/stock" -h2lifecycle "$work/h2lifecycle" "${extra[@]}")
	if [ "$transport" = tls ]; then
		args+=(-tls -cert "$work/cert.pem" -key "$work/key.pem")
	fi
	if [ -n "${H2SPEC_LOGS:-}" ]; then
		args+=(-logs "$H2SPEC_LOGS/$transport")
	fi
	# compare bounds every h2spec run and kills the servers it started; the
	# outer timeout is a last resort.
	timeout 600 "$work/compare" "${args[@]}" || status=$?
done
exit "$status"
