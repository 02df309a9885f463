#!/usr/bin/env bash
# scripts/demo.sh BUILD_DIR — the `make demo` script.
#
# Starts a private broker (BUILD_DIR/broker/ipcqd) on a socket in a fresh
# temporary directory, waits for its ready line (no sleep), then runs each
# example group as separate processes to end of stream, shows the ipcq
# command line and its exit codes, stops the broker with SIGTERM and checks
# that it exits 0 and removes its socket. Exits non-zero if anything failed.
# Everything it creates lives in the temporary directory, removed at exit.
set -u -o pipefail

BUILD=${1:-build}
if ! BUILD=$(cd "$BUILD" 2>/dev/null && pwd); then
    echo "demo: no build directory '${1:-build}' (run: make build)" >&2
    exit 2
fi
IPCQD=$BUILD/broker/ipcqd
IPCQ_BIN=$BUILD/tools/ipcq
EX=$BUILD/examples
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for f in "$IPCQD" "$IPCQ_BIN" "$EX/hello_producer" "$EX/pool_driver" \
         "$EX/pipeline_producer" "$EX/files_driver" \
         "$EX/threads_shared_client"; do
    if [ ! -x "$f" ]; then
        echo "demo: missing $f (build first: make build)" >&2
        exit 2
    fi
done

LIMIT=20        # seconds any one program may run: a hang fails the demo
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ipcq-demo.XXXXXX") || exit 1
broker_pid=""
failures=0
passed=0

cleanup() {
    if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid" 2>/dev/null
        wait "$broker_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every program runs under a time limit, so a hang is a failure, not a
# stuck demo.
run() { timeout -k 2 "$LIMIT" "$@"; }
ipcq() { run "$IPCQ_BIN" "$@"; }
heading() { printf '\n=== %s ===\n' "$*"; }
# Print a command the way a user would type it (arguments with spaces or
# shell characters in single quotes), then run it.
quoted() {
    local a out=""
    for a in "$@"; do
        case $a in
        *[!A-Za-z0-9._/:=@%+-]*|'') out="$out '$a'" ;;
        *) out="$out $a" ;;
        esac
    done
    printf '$%s\n' "$out"
}
show() { quoted "$@"; "$@"; }

# result NAME OK: count and print the outcome of one group.
result() {
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1)); printf -- '--> %s: ok\n' "$1"
    else
        failures=$((failures + 1)); printf -- '--> %s: FAILED\n' "$1"
    fi
}

start_broker() {
    mkfifo "$tmp/ready" || return 1
    # The broker writes "READY" on fd 3 once it listens, then closes it;
    # if it dies first, the read sees end of file instead.
    "$IPCQD" --listen "ipc://$tmp/ipcqd.sock" --ready-fd 3 \
        --log-level warn 3>"$tmp/ready" 2>"$tmp/ipcqd.log" &
    broker_pid=$!
    local line=""
    read -r -t 10 line <"$tmp/ready"
    if [ "$line" != "READY" ]; then
        echo "demo: broker did not become ready; its log:" >&2
        cat "$tmp/ipcqd.log" >&2
        return 1
    fi
    export IPCQ_URL="ipc://$tmp/ipcqd.sock"
    echo "broker pid $broker_pid listening on $IPCQ_URL"
}

demo_hello() {
    heading "1. hello: one producer process, one consumer process"
    run "$EX/hello_consumer" demo.hello &
    local cpid=$!
    run "$EX/hello_producer" demo.hello 5
    local prc=$?
    wait "$cpid"
    local crc=$?
    result "hello (producer exit $prc, consumer exit $crc)" \
        $((prc != 0 || crc != 0))
}

demo_pool() {
    heading "2. work pool: Pool.map across processes (driver forks 4 workers)"
    run "$EX/pool_driver" 1000 4 demo.tasks demo.results
    result "pool" $?
}

demo_pipeline() {
    local P=4 M=250 C=3 i rc=0 total=0 n
    local cpids=() ppids=()
    heading "3. pipeline: $P producers x $M messages, $C consumers, expected_producers=$P"
    for i in $(seq 1 $C); do
        run "$EX/pipeline_consumer" "$i" demo.pipeline $P >"$tmp/cons.$i" &
        cpids+=($!)
    done
    # Producers 1..P-1 finish before the last one even starts: the queue
    # must not end early, because it expects P producers.
    for i in $(seq 1 $((P - 1))); do
        run "$EX/pipeline_producer" "$i" $M demo.pipeline $P &
        ppids+=($!)
    done
    for i in "${ppids[@]}"; do wait "$i" || rc=1; done
    echo "(producers 1..$((P - 1)) done; the consumers keep waiting for producer $P)"
    run "$EX/pipeline_producer" $P $M demo.pipeline $P || rc=1
    for i in "${cpids[@]}"; do wait "$i" || rc=1; done
    for i in $(seq 1 $C); do
        cat "$tmp/cons.$i"
        n=$(tail -n 1 "$tmp/cons.$i" | awk '{print $2}')
        total=$((total + ${n:-0}))
    done
    echo "total received by all consumers: $total (expected $((P * M)))"
    [ "$total" -eq $((P * M)) ] || rc=1
    result "pipeline" $rc
}

demo_files() {
    local W=3 i rc=0 wpids=()
    heading "4. file processing: $W worker processes upper-case 12 files"
    mkdir "$tmp/files"
    for i in $(seq 1 $W); do
        run "$EX/files_worker" $W demo.todo demo.done &
        wpids+=($!)
    done
    run "$EX/files_driver" 12 $W "$tmp/files" demo.todo demo.done || rc=1
    for i in "${wpids[@]}"; do wait "$i" || rc=1; done
    result "files" $rc
}

demo_threads() {
    heading "5. threads: 4 producer + 4 consumer threads share one client"
    run "$EX/threads_shared_client" 4 4 1000 demo.threads
    result "threads" $?
}

# The Python client, if it was built (BUILD/python) and Debian's
# python3-protobuf is there; else the group is skipped, not failed.
demo_python() {
    heading "6. Python: Pool.map with a worker killed mid-way (pool_map.py --kill-one)"
    if [ ! -f "$BUILD/python/ipcq/ipcq_pb2.py" ] ||
       ! /usr/bin/python3 -c 'import google.protobuf' 2>/dev/null; then
        echo "(skipped: no Python client in $BUILD/python or no python3-protobuf)"
        return 0
    fi
    PYTHONPATH="$BUILD/python" run /usr/bin/python3 \
        "$ROOT/examples/python/pool_map.py" -n 200 -w 3 --kill-one
    result "python pool_map --kill-one" $?
}

# expect_exit WANT ipcq ARGS...: run, show the exit code, check it.
expect_exit() {
    local want=$1 got
    shift
    quoted "$@"
    "$@"
    got=$?
    echo "(exit $got)"
    [ "$got" -eq "$want" ]
}

demo_cli() {
    local rc=0 lines
    heading "7. the ipcq command line"
    show ipcq send --end demo.cli "first message" "second message" "third" || rc=1
    echo '$ seq 1 1000 | ipcq send --end demo.numbers'
    seq 1 1000 | ipcq send --end demo.numbers || rc=1
    show ipcq list || rc=1
    show ipcq stats || rc=1
    show ipcq recv demo.cli || rc=1
    show ipcq recv -n 3 demo.numbers || rc=1
    echo '$ ipcq recv demo.numbers | wc -l'
    lines=$(ipcq recv demo.numbers | wc -l) || rc=1
    echo "$lines"
    [ "$lines" -eq 997 ] || rc=1
    show ipcq stats demo.numbers || rc=1
    show ipcq send demo.purge a b c || rc=1
    show ipcq purge demo.purge || rc=1
    show ipcq delete demo.purge || rc=1
    echo "--- exit codes a script can rely on (ipcq --help lists them all)"
    expect_exit 5 ipcq send demo.cli "too late" || rc=1
    expect_exit 3 ipcq recv -n 1 demo.cli || rc=1
    expect_exit 4 ipcq recv --timeout 100 demo.empty || rc=1
    expect_exit 7 ipcq stats demo.no-such-queue || rc=1
    expect_exit 9 ipcq send 'bad/name' x || rc=1
    expect_exit 6 ipcq --url "ipc://$tmp/nobody.sock" list || rc=1
    result "cli" $rc
}

stop_broker() {
    local rc
    heading "stopping the broker (SIGTERM)"
    kill -TERM "$broker_pid"
    wait "$broker_pid"
    rc=$?
    broker_pid=""
    echo "ipcqd exit status: $rc"
    [ ! -e "$tmp/ipcqd.sock" ] || { echo "socket file left behind"; rc=1; }
    result "broker shutdown" "$rc"
}

start=$(date +%s)
start_broker || exit 1
demo_hello
demo_pool
demo_pipeline
demo_files
demo_threads
demo_python
demo_cli
stop_broker
if [ "$failures" -ne 0 ] && [ -s "$tmp/ipcqd.log" ]; then
    echo "--- broker log:"
    cat "$tmp/ipcqd.log"
fi
heading "demo summary"
echo "$passed passed, $failures failed, in $(( $(date +%s) - start )) s"
[ "$failures" -eq 0 ]
