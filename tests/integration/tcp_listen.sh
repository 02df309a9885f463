#!/usr/bin/env bash
# tcp_listen.sh — one broker on ipc:// and tcp:// at once: a producer on
# tcp:// and a consumer on ipc:// share a queue; a second broker on the
# same tcp port refuses to start (exit 3); the first exits 0 on SIGTERM.
#
#   tests/integration/tcp_listen.sh PATH/TO/ipcqd PATH/TO/ipcq
set -uo pipefail

ipcqd=${1:?usage: tcp_listen.sh IPCQD IPCQ}
ipcq=${2:?usage: tcp_listen.sh IPCQD IPCQ}
dir=$(mktemp -d)
broker_pid=
fail() {
	echo "tcp_listen: FAIL: $*" >&2
	[ -s "$dir/broker.log" ] && cat "$dir/broker.log" >&2
	exit 1
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	[ -n "$broker_pid" ] && kill -KILL "$broker_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# A free loopback port: bound by the kernel, released just before use.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tcp=tcp://127.0.0.1:$port
ipc=ipc://$dir/s.sock

mkfifo "$dir/ready"
"$ipcqd" --listen "$ipc" --listen "$tcp" --ready-fd 3 3>"$dir/ready" \
    2>"$dir/broker.log" </dev/null &
broker_pid=$!
IFS= read -r -t 30 ready <"$dir/ready" || ready=
[ "$ready" = READY ] || fail "broker not ready"

"$ipcq" -u "$tcp" send --end mixed one two three ||
    fail "send over tcp:// exited $?"
got=$("$ipcq" -u "$ipc" recv mixed) || fail "recv over ipc:// exited $?"
[ "$got" = "$(printf 'one\ntwo\nthree')" ] || fail "recv got '$got'"

"$ipcqd" --listen "$tcp" 2>"$dir/second.log"
rc=$?
[ $rc -eq 3 ] || fail "second broker on $tcp exited $rc, want 3"
"$ipcq" -u "$tcp" list >/dev/null || fail "first broker stopped serving"

kill -TERM "$broker_pid"
wait "$broker_pid"
rc=$?
broker_pid=
[ $rc -eq 0 ] || fail "broker exited $rc on SIGTERM"
[ ! -e "$dir/s.sock" ] || fail "socket file left behind"
echo "tcp_listen: ok"
