#!/usr/bin/env bash
# protocol-session.sh — the worked session of docs/protocol.md, run for real.
#
#   tools/protocol-session.sh [URL]
#
# Talks to a running ipcqd at URL (default: $IPCQ_URL, else the default
# broker address) with nothing but nngcat (nng-utils), protoc
# (protobuf-compiler) and proto/ipcq.proto, plus a 39-line stdlib-only
# Python helper that keeps one SP connection open (see below for why).
# Prints the transcript shown in docs/protocol.md; the test
# tests/integration/protocol_doc.sh checks that both agree.
#
# The queue "jobs" must not exist yet (a fresh broker); the session
# deletes it at the end, so it can be run again.
#
# Exit status: 0 when every step got a reply, 1 on a transport failure,
# 2 when a tool is missing or "jobs" already exists.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
proto_dir=${IPCQ_PROTO_DIR:-$here/../proto}

default_url() {
	case "${XDG_RUNTIME_DIR:-}" in
	/*) echo "ipc://$XDG_RUNTIME_DIR/ipcq/ipcqd.sock" ;;
	*) echo "ipc:///tmp/ipcq-$(id -u)/ipcqd.sock" ;;
	esac
}
URL=${1:-${IPCQ_URL:-$(default_url)}}

for tool in nngcat protoc python3 base64; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "protocol-session: $tool not found (apt-get install nng-utils" \
		    "protobuf-compiler python3)" >&2
		exit 2
	fi
done
if [ ! -r "$proto_dir/ipcq.proto" ]; then
	echo "protocol-session: $proto_dir/ipcq.proto not found" >&2
	exit 2
fi

work=$(mktemp -d)
cleanup() {
	if [ -n "${SP_PID:-}" ]; then
		# End of input: the helper exits and closes its connection.
		exec {to_sp}>&- 2>/dev/null || true
		wait "$SP_PID" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# --- the protobuf side: protoc with the text format ------------------------

enc() { # text-format ipcq.v1.Request on $1 -> binary on stdout
	printf '%s' "$1" |
	    protoc --encode=ipcq.v1.Request -I "$proto_dir" "$proto_dir/ipcq.proto"
}

dec() { # binary ipcq.v1.Reply on stdin -> text format on stdout
	local out
	out=$(protoc --decode=ipcq.v1.Reply -I "$proto_dir" \
	    "$proto_dir/ipcq.proto")
	if [ -z "$out" ]; then
		# proto3 leaves defaults off the wire: an OK reply with no body
		# would be zero bytes long. ipcqd always sets a body on success
		# (detach {} too), but the protocol allows an empty reply.
		echo "(empty reply: status STATUS_OK, no body)"
	else
		printf '%s\n' "$out"
	fi
}

# --- one request per connection: nngcat ------------------------------------

nngcat_req() { # $1: request text. Prints the request and the decoded reply.
	printf '\n[nngcat] %s\n' "$1"
	enc "$1" |
	    nngcat --req --dial "$URL" --recv-timeout 10 --raw --file - |
	    dec | tee "$work/reply"
}

# --- several requests on one connection: the SP helper ---------------------
#
# Handles live on the connection that opened them, and every nngcat run
# is a new connection, so send/recv/ack/end need a client that keeps its
# connection. This helper speaks the SP framing of docs/protocol.md
# ("Transport") itself: one base64 Request body per line in, one base64
# Reply body per line out.
cat >"$work/spreq.py" <<'EOF'
import base64, os, socket, struct, sys

url = sys.argv[1]
if url.startswith("ipc://"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(url[len("ipc://"):])
    mtype = b"\x01"                   # ipc: a message-type byte, always 1
elif url.startswith("tcp://"):
    host, port = url[len("tcp://"):].rsplit(":", 1)
    s = socket.create_connection((host.strip("[]"), int(port)))
    mtype = b""                       # tcp: no message-type byte
else:
    sys.exit("spreq: URL must be ipc:// or tcp://")

def readn(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            sys.exit("spreq: connection closed by the broker")
        buf += chunk
    return buf

s.sendall(b"\x00SP\x00\x00\x30\x00\x00")      # SP header: I am REQ v0 (0x30)
if readn(8) != b"\x00SP\x00\x00\x31\x00\x00":  # the broker must be REP v0
    sys.exit("spreq: peer is not an SP REP v0 socket")

rid = 0x80000000 | (os.getpid() << 8 & 0x7fffffff)
for line in sys.stdin:
    rid = 0x80000000 | ((rid + 1) & 0x7fffffff)  # high bit set: last hop
    msg = struct.pack(">I", rid) + base64.b64decode(line)
    s.sendall(mtype + struct.pack(">Q", len(msg)) + msg)
    while True:                                   # skip stale replies
        if readn(len(mtype)) != mtype:
            sys.exit("spreq: bad ipc message type")
        reply = readn(struct.unpack(">Q", readn(8))[0])
        if reply[:4] == struct.pack(">I", rid):
            break
    print(base64.b64encode(reply[4:]).decode(), flush=True)
EOF

coproc SP { exec python3 "$work/spreq.py" "$URL"; }
SP_PID=$!
# Plain copies of the coprocess's pipes: bash hides SP[0]/SP[1] from
# subshells, and every stage of a pipeline is one. Then close the
# originals, so that closing to_sp alone ends the helper's input.
exec {to_sp}>&"${SP[1]}" {from_sp}<&"${SP[0]}"
eval "exec ${SP[1]}>&- ${SP[0]}<&-"

# Both print the decoded reply and keep a copy in $work/reply, for
# handle_of.
conn_req() { # $1: request text, sent on the helper's one connection.
	local line
	printf '\n[conn] %s\n' "$1"
	enc "$1" | base64 -w0 >&"$to_sp"
	echo >&"$to_sp"
	if ! IFS= read -r -t 10 line <&"$from_sp"; then
		echo "protocol-session: no reply on the connection" >&2
		exit 1
	fi
	printf '%s' "$line" | base64 -d | dec | tee "$work/reply"
}

handle_of() { # the handle in the last OpenReply
	sed -n 's/^ *handle: \([0-9]*\)$/\1/p' "$work/reply" | head -n 1
}

# --- the session -----------------------------------------------------------

if enc 'version: 1 stats { queue: "jobs" }' |
    nngcat --req --dial "$URL" --recv-timeout 10 --raw --file - | dec |
    grep -q '^stats {'; then
	echo "protocol-session: queue jobs already exists; use a fresh broker" >&2
	exit 2
fi

echo "# Part 1: nngcat, one request per connection"
nngcat_req 'version: 1 list {}'
nngcat_req 'version: 1 open { queue: "jobs" ack_mode: ACK_EXPLICIT options { max_messages: 1000 } }'
h=$(handle_of)
echo "# nngcat has exited: its connection, and the handle with it, are gone"
nngcat_req "version: 1 send { handle: $h payloads: \"hello\" }"
echo "# declare: the same options match (0 fields are the defaults) ..."
nngcat_req 'version: 1 open { queue: "jobs" declare: true options { max_messages: 1000 } }'
echo "# ... and 0 means the default (100000), not \"any\""
nngcat_req 'version: 1 open { queue: "jobs" declare: true }'
nngcat_req 'version: 1 stats { queue: "jobs" }'

echo
echo "# Part 2: one connection (spreq.py), several requests"
conn_req 'version: 1 open { queue: "jobs" roles: 1 }'
p=$(handle_of)
echo "# a producer that detaches without ending is lost"
conn_req "version: 1 detach { handle: $p }"
conn_req 'version: 1 open { queue: "jobs" ack_mode: ACK_EXPLICIT }'
h=$(handle_of)
echo "# drained, no producer attached, one lost: abandoned, at once"
conn_req "version: 1 recv { handle: $h max_messages: 10 timeout_ms: 100 }"
echo "# the same handle sends: it is now an attached producer too"
conn_req "version: 1 send { handle: $h payloads: \"hello\" payloads: \"world\" timeout_ms: 1000 }"
conn_req "version: 1 recv { handle: $h max_messages: 10 timeout_ms: 1000 }"
conn_req "version: 1 ack { handle: $h ids: 1 }"
echo "# the same ack again: lease 1 is gone"
conn_req "version: 1 ack { handle: $h ids: 1 }"
echo "# negative ack: lease 2 goes back to the head of the queue"
conn_req "version: 1 ack { handle: $h ids: 2 requeue: true }"
conn_req "version: 1 recv { handle: $h max_messages: 10 timeout_ms: 1000 }"
conn_req "version: 1 ack { handle: $h ids: 3 }"
echo "# drained, but a producer is attached: the broker parks the recv for"
echo "# timeout_ms, then answers"
conn_req "version: 1 recv { handle: $h max_messages: 10 timeout_ms: 100 }"
echo "# a second producer attaches"
conn_req 'version: 1 open { queue: "jobs" roles: 1 }'
p=$(handle_of)
echo "# the first one ends; another producer is attached: the queue goes on"
conn_req "version: 1 end { handle: $h }"
echo "# a handle that has ended its own stream cannot send"
conn_req "version: 1 send { handle: $h payloads: \"late\" timeout_ms: 1000 }"
echo "# the last attached producer ends: the queue ends (the lost one does"
echo "# not hold it up)"
conn_req "version: 1 end { handle: $p }"
conn_req "version: 1 recv { handle: $h max_messages: 10 timeout_ms: 1000 }"
conn_req "version: 1 recv { handle: $h max_messages: 10 timeout_ms: 1000 }"
conn_req 'version: 1 stats { queue: "jobs" }'
conn_req "version: 1 detach { handle: $h }"
conn_req "version: 1 send { handle: $h payloads: \"hello\" }"

echo
echo "# Part 3: nngcat again; the broker still serves"
nngcat_req 'version: 1 shutdown { queue: "jobs" }'
nngcat_req 'version: 1 delete { queue: "jobs" }'
nngcat_req 'version: 1 list {}'
