#!/usr/bin/env bash
# make fuzz: fuzzes each parser of outside input for FUZZTIME (20s by default), FUZZJOBS (2)
# targets at a time, each with one worker, so that the nine fit in about a minute and a half
# of CI on two cores. A failing input is written to its package's testdata/fuzz; every target
# that found one is named at the end, and the exit status is 1.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20s}
JOBS=${FUZZJOBS:-2}
targets=(
	internal/token:FuzzToken
	internal/apitoken:FuzzCredentials
	internal/responseapi:FuzzVerifySigned
	internal/dsn:FuzzParse
	internal/audience:FuzzRead
	internal/audience:FuzzScanSelect
	internal/i18n:FuzzChoose
	internal/survey:FuzzReadForm
	internal/touchpoint:FuzzRead
)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# The test binaries first, one package at a time, so that the fuzzing time is fuzzing.
for pkg in $(printf '%s\n' "${targets[@]%%:*}" | sort -u); do
	go test -run '^$' -count=1 "./$pkg" >/dev/null || { echo "fuzz: $pkg does not build or its seeds fail"; exit 1; }
done
fuzz() {
	local pkg=${1%%:*} name=${1#*:}
	if go test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -parallel 1 "./$pkg" >"$logs/$name.log" 2>&1; then
		echo "== fuzz $name ($pkg, $FUZZTIME): ok"
	else
		echo "== fuzz $name ($pkg, $FUZZTIME): FAILED"
		cat "$logs/$name.log"
		touch "$logs/$name.failed"
	fi
}
for t in "${targets[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
	fuzz "$t" &
done
wait
failed=$(cd "$logs" && ls ./*.failed 2>/dev/null | sed 's|^\./||; s|\.failed$||' | tr '\n' ' ')
if [ -n "$failed" ]; then
	echo "fuzzing found failing inputs in: $failed(each is in its package's testdata/fuzz: fix the bug and commit the input as a seed)"
	exit 1
fi
