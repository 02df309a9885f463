#!/usr/bin/env bash
# protocol_doc.sh — docs/protocol.md is executed, so it cannot drift.
#
#   tests/integration/protocol_doc.sh PATH/TO/ipcqd
#
# Starts the broker in a temporary directory (synchronised on --ready-fd,
# never on sleep), runs tools/protocol-session.sh against it, and checks:
#   1. the replies: the statuses and payloads the session must produce,
#      and that successful replies carry their body (never zero bytes);
#   2. the transcript equals the one in docs/protocol.md (handle ids, which
#      differ per broker instance, normalised);
#   3. the SP helper in the script is the one printed in the document;
#   4. the byte-level frame example of the document, sent raw;
#   5. the broker still serves, exits 0 on SIGTERM and removes its socket.
# Needs nngcat (nng-utils), protoc (protobuf-compiler), python3.
# Exit 0 on success, 1 on failure.
set -uo pipefail

ipcqd=${1:?usage: protocol_doc.sh PATH/TO/ipcqd}
src=$(cd "$(dirname "$0")/../.." && pwd)
doc=$src/docs/protocol.md
session=$src/tools/protocol-session.sh

fail() {
	echo "protocol_doc: FAIL: $*" >&2
	if [ -s "${dir:-/nonexistent}/broker.log" ]; then
		echo "--- broker log:" >&2
		cat "$dir/broker.log" >&2
	fi
	exit 1
}

for tool in nngcat protoc python3 base64; do
	command -v "$tool" >/dev/null 2>&1 ||
	    fail "$tool not found (scripts/install-deps.sh installs it)"
done
[ -x "$ipcqd" ] || fail "no broker binary at $ipcqd"

dir=$(mktemp -d)
broker_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
		kill -KILL "$broker_pid" 2>/dev/null
		wait "$broker_pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

# --- start the broker, wait for READY on a fifo ----------------------------
sock=$dir/s.sock
url=ipc://$sock
mkfifo "$dir/ready"
# --max-memory: the transcript's stats show it (the default is half of RAM).
"$ipcqd" --listen "$url" --max-memory 1G --ready-fd 3 3>"$dir/ready" \
    2>"$dir/broker.log" \
    </dev/null &
broker_pid=$!
# EOF (empty line) if the broker exits before it is ready.
IFS= read -r -t 30 ready <"$dir/ready" || ready=
[ "$ready" = READY ] || fail "broker not ready (got '$ready')"
[ -S "$sock" ] || fail "no socket at $sock after READY"

# --- 1. run the session, check the replies ---------------------------------
IPCQ_PROTO_DIR=$src/proto "$session" "$url" >"$dir/session.out" \
    2>"$dir/session.err" ||
    fail "protocol-session.sh exited $?: $(cat "$dir/session.err")"

# Each pattern must match a line, in this order (grep -n gives positions).
expect_in_order() {
	local last=0 n pat
	for pat in "$@"; do
		n=$(tail -n +"$((last + 1))" "$dir/session.out" |
		    grep -n -m 1 -e "$pat" | cut -d: -f1)
		[ -n "$n" ] || fail "session output lacks '$pat' after line $last"
		last=$((last + n))
	done
}
expect_in_order \
    '^\[nngcat\] version: 1 list {}$' \
    '^  handle: [0-9][0-9]*$' \
    '^    max_messages: 1000$' \
    '^status: STATUS_EBADHANDLE$' \
    '^\[nngcat\] version: 1 open { queue: "jobs" declare: true options ' \
    '^  handle: [0-9][0-9]*$' \
    '^\[nngcat\] version: 1 open { queue: "jobs" declare: true }$' \
    '^status: STATUS_EEXIST$' \
    '^\[conn\] version: 1 open { queue: "jobs" roles: 1 }$' \
    '^\[conn\] version: 1 detach ' \
    '^\[conn\] version: 1 open ' \
    '^  handle: [0-9][0-9]*$' \
    '^status: STATUS_EABANDONED$' \
    '^  accepted: 2$' \
    '^    payload: "hello"$' \
    '^    payload: "world"$' \
    '^  acked: 1$' \
    '^status: STATUS_ENOLEASE$' \
    '^  acked: 1$' \
    '^    id: 3$' \
    '^    payload: "world"$' \
    '^    redelivered: true$' \
    '^    delivery_count: 2$' \
    '^  acked: 1$' \
    '^status: STATUS_ETIMEDOUT$' \
    '^\[conn\] version: 1 open { queue: "jobs" roles: 1 }$' \
    '^\[conn\] version: 1 end ' \
    '^status: STATUS_ECLOSED$' \
    '^  queue_ended: true$' \
    '^status: STATUS_EOF$' \
    '^status: STATUS_EOF$' \
    '^    ended: true$' \
    '^    producers_ended: 2$' \
    '^    producers_lost: 1$' \
    '^\[conn\] version: 1 detach ' \
    '^status: STATUS_EBADHANDLE$' \
    '^\[nngcat\] version: 1 shutdown ' \
    '^\[nngcat\] version: 1 delete ' \
    '^\[nngcat\] version: 1 list {}$'

# The whole reply to the K-th request whose line starts with PREFIX: the
# lines after it up to the next blank, comment or request line.
reply_to() { # $1: request line prefix, $2: K (default 1)
	awk -v pre="$1" -v k="${2:-1}" '
	    on && ($0 == "" || /^[#[]/) { exit }
	    on { print }
	    index($0, pre) == 1 && ++seen == k { on = 1 }' "$dir/session.out"
}
expect_reply() { # $1: prefix, $2: K, $3: the exact reply
	[ "$(reply_to "$1" "$2")" = "$3" ] ||
	    fail "reply $2 to '$1' is '$(reply_to "$1" "$2")', want '$3'"
}
# A successful detach, shutdown or delete carries its (empty) body: never a
# zero-byte reply.
expect_reply '[conn] version: 1 detach ' 1 "$(printf 'detach {\n}')"
expect_reply '[conn] version: 1 detach ' 2 "$(printf 'detach {\n}')"
expect_reply '[nngcat] version: 1 shutdown ' 1 "$(printf 'shutdown {\n}')"
expect_reply '[nngcat] version: 1 delete ' 1 "$(printf 'delete {\n}')"
! grep -q '^(empty reply' "$dir/session.out" ||
    fail "a successful reply without a body (zero bytes)"
# End: the first producer's end leaves the queue open (another producer is
# attached), the last one's ends it although a producer was lost.
expect_reply '[conn] version: 1 end ' 1 "$(printf 'end {\n}')"
expect_reply '[conn] version: 1 end ' 2 \
    "$(printf 'end {\n  queue_ended: true\n}')"
# The last step's reply: the broker still answers, and "jobs" is gone.
[ "$(tail -n 2 "$dir/session.out")" = "$(printf 'list {\n}')" ] ||
    fail "last reply is not an empty list"

# --- 2. the transcript in the document -------------------------------------
# Handle ids carry a per-broker random epoch: compare them as <H>.
normalise() { sed -E 's/[0-9]{16,20}/<H>/g'; }
sed -n '/^<!-- session-transcript begin -->$/,/^<!-- session-transcript end -->$/p' \
    "$doc" | sed '1,2d;$d' | sed '$d' | normalise >"$dir/doc.out"
[ -s "$dir/doc.out" ] || fail "no session transcript found in $doc"
normalise <"$dir/session.out" >"$dir/run.out"
if ! diff -u "$dir/doc.out" "$dir/run.out" >"$dir/diff"; then
	cat "$dir/diff" >&2
	fail "docs/protocol.md transcript differs from the session (diff above)"
fi

# --- 3. the helper printed in the document is the one the script runs ------
sed -n "/^cat >\"\$work\/spreq.py\" <<'EOF'\$/,/^EOF\$/p" "$session" |
    sed '1d;$d' >"$dir/helper.script"
sed -n '/^<!-- spreq.py begin -->$/,/^<!-- spreq.py end -->$/p' "$doc" |
    sed '1,2d;$d' | sed '$d' >"$dir/helper.doc"
[ -s "$dir/helper.script" ] || fail "no helper found in $session"
diff -u "$dir/helper.doc" "$dir/helper.script" >&2 ||
    fail "spreq.py in docs/protocol.md differs from the script's"

# --- 4. the byte-level example of "Transport" -------------------------------
# The exact bytes the document shows, sent on a raw Unix socket.
req_hex='0100000000000000088000000108015200'
rep_hex='010000000000000006800000015a00'
if ! grep -q "01 00 00 00 00 00 00 00 08 80 00 00 01 08 01 52 00" "$doc" ||
    ! grep -q "01 00 00 00 00 00 00 00 06 80 00 00 01 5a 00" "$doc"; then
	fail "the frame example in $doc is not the one tested here"
fi
got=$(python3 - "$sock" "$req_hex" "${#rep_hex}" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(bytes.fromhex("0053500000300000") + bytes.fromhex(sys.argv[2]))
want = 8 + int(sys.argv[3]) // 2
buf = b""
while len(buf) < want:
    chunk = s.recv(want - len(buf))
    if not chunk:
        break
    buf += chunk
print(buf.hex())
EOF
) || fail "raw frame exchange failed"
[ "$got" = "0053500000310000$rep_hex" ] ||
    fail "raw exchange: got $got, want 0053500000310000$rep_hex"

# --- 5. clean shutdown -------------------------------------------------------
kill -TERM "$broker_pid"
wait "$broker_pid"
rc=$?
broker_pid=
[ "$rc" -eq 0 ] || fail "broker exited $rc after SIGTERM"
[ ! -e "$sock" ] || fail "socket $sock left behind"

echo "protocol_doc: ok"
exit 0
