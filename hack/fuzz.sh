#!/usr/bin/env bash
# Fuzzes each target ("package:FuzzFunction") for FUZZTIME, FUZZ_JOBS targets at a time, each with
# FUZZ_WORKERS worker processes (go test's -parallel; GOMAXPROCS when unset) (make fuzz).
#
# Each package's fuzzing test binary is built once (go test -c -fuzz) and run for each of its targets
# as `go test -fuzz` runs it: in the package's directory, with the go command's corpus cache, so a
# failing input is written to the package's testdata/fuzz as usual. A target's output is printed whole
# when it ends; the first failure stops the run and fails it.
#
# Go 1.26's fuzzing coordinator can report a bare "context deadline exceeded" when -fuzztime ends while
# a worker is busy, on a loaded machine (go.dev/issue/75804, fixed in Go 1.27): a failure without a
# failing input. Such a run is tried again, up to twice; every other failure fails at once.
set -euo pipefail

: "${FUZZTIME:?}" "${FUZZ_JOBS:=2}" "${LOCALBIN:?}" "${FUZZ_WORKERS:=}"
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
# deadlineOnly tells whether a failed run's log is the coordinator's deadline race: "context deadline
# exceeded" and no failing input.
deadlineOnly() {
	grep -q 'context deadline exceeded' "$1" && ! grep -q 'Failing input written' "$1"
}
run() {
	local target=$1 pkg=${1%%:*} fn=${1##*:} log corpus attempt
	log="$logs/$(echo "$target" | tr -c 'a-zA-Z0-9\n' _)"
	corpus="$cache/$(go list "$pkg")"
	for attempt in 1 2 3; do
		if (cd "$pkg" && "$(binary "$pkg")" -test.run '^$' -test.fuzz "^$fn\$" -test.fuzztime "$FUZZTIME" \
			-test.fuzzcachedir "$corpus" -test.timeout 10m ${FUZZ_WORKERS:+-test.parallel "$FUZZ_WORKERS"}) > "$log" 2>&1 &&
			grep -q '^fuzz: elapsed' "$log"; then # a name that matches no target fuzzes nothing, silently
			echo "ok   fuzz $pkg $fn ($FUZZTIME)"
			return 0
		fi
		if [ "$attempt" -lt 3 ] && deadlineOnly "$log"; then
			echo "again fuzz $pkg $fn: the coordinator's deadline race (go.dev/issue/75804), no failing input"
			continue
		fi
		break
	done
	echo "FAIL fuzz $pkg $fn ($FUZZTIME):"
	cat "$log"
	return 1
}
export -f run binary deadlineOnly
export bindir cache logs FUZZTIME FUZZ_WORKERS
printf '%s\n' "$@" | xargs -P "$FUZZ_JOBS" -I{} bash -c 'run "$1"' _ {}
