#!/usr/bin/env bash
# readme_example.sh — the C example in README.md compiles and works: run
# as a producer (arguments) and as a consumer (none) against a broker, the
# consumer prints every message and stops at end of stream.
#
#   tests/integration/readme_example.sh IPCQD INCLUDE_DIR LIBIPCQ_DIR
set -uo pipefail

ipcqd=${1:?} inc=${2:?} libdir=${3:?}
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
broker_pid=
fail() { echo "readme_example: FAIL: $*" >&2; exit 1; }
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	[ -n "$broker_pid" ] && kill -KILL "$broker_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# The first ```c block of the README.
awk '/^```c$/ {on=1; next} on && /^```$/ {exit} on {print}' \
    "$src/README.md" >"$dir/app.c"
[ -s "$dir/app.c" ] || fail "no C example in README.md"
lines=$(wc -l <"$dir/app.c")
[ "$lines" -le 25 ] || fail "the README example has $lines lines"
# shellcheck disable=SC2086 # IPCQ_TEST_CFLAGS is a list of flags
cc ${IPCQ_TEST_CFLAGS:-} -Wall -Werror -o "$dir/app" "$dir/app.c" -I"$inc" -L"$libdir" -lipcq \
    -Wl,-rpath,"$libdir" || fail "README example does not compile"

mkfifo "$dir/ready"
"$ipcqd" --listen "ipc://$dir/s.sock" --ready-fd 3 3>"$dir/ready" \
    2>"$dir/broker.log" </dev/null &
broker_pid=$!
IFS= read -r -t 30 ready <"$dir/ready" || ready=
[ "$ready" = READY ] || fail "broker not ready"
export IPCQ_URL=ipc://$dir/s.sock

"$dir/app" alpha beta gamma || fail "producer exited $?"
got=$(timeout 20 "$dir/app") || fail "consumer exited $?"
[ "$got" = "$(printf 'alpha\nbeta\ngamma')" ] || fail "consumer printed '$got'"
kill -TERM "$broker_pid"
wait "$broker_pid" || fail "broker exit $?"
broker_pid=
echo "readme_example: ok"
