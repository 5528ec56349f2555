#!/usr/bin/env bash
# Fuzzes each target ("package:FuzzFunction") for FUZZTIME, FUZZ_JOBS targets at a time (make fuzz).
#
# Each package's fuzzing test binary is built once (go test -c -fuzz) and run for each of its targets
# as `go test -fuzz` runs it: in the package's directory, with the go command's corpus cache, so a
# failing input is written to the package's testdata/fuzz as usual. A target's output is printed whole
# when it ends; the first failure stops the run and fails it.
set -euo pipefail

: "${FUZZTIME:?}" "${FUZZ_JOBS:=2}" "${LOCALBIN:?}"
bindir="$LOCALBIN/fuzz"
mkdir -p "$bindir"
cache="$(go env GOCACHE)/fuzz"

binary() { echo "$bindir/$(echo "$1" | tr -c 'a-zA-Z0-9\n' _).test"; }

packages=$(for target in "$@"; do echo "${target%%:*}"; done | sort -u)
for pkg in $packages; do
	go test -c -fuzz . -o "$(binary "$pkg")" "$pkg"
done

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
run() {
	local target=$1 pkg=${1%%:*} fn=${1##*:} log corpus
	log="$logs/$(echo "$target" | tr -c 'a-zA-Z0-9\n' _)"
	corpus="$cache/$(go list "$pkg")"
	if (cd "$pkg" && "$(binary "$pkg")" -test.run '^$' -test.fuzz "^$fn\$" -test.fuzztime "$FUZZTIME" \
		-test.fuzzcachedir "$corpus" -test.timeout 10m) > "$log" 2>&1 &&
		grep -q '^fuzz: elapsed' "$log"; then # a name that matches no target fuzzes nothing, silently
		echo "ok   fuzz $pkg $fn ($FUZZTIME)"
	else
		echo "FAIL fuzz $pkg $fn ($FUZZTIME):"
		cat "$log"
		return 1
	fi
}
export -f run binary
export bindir cache logs FUZZTIME
printf '%s\n' "$@" | xargs -P "$FUZZ_JOBS" -I{} bash -c 'run "$1"' _ {}
