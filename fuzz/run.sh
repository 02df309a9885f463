#!/bin/sh
# Run the fuzz targets of a fuzz build (docs/testing.md, "Fuzzing").
#
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# For each target (default: all): replay every committed input of
# fuzz/corpus/TARGET once, then fuzz for SECONDS from them with
# fuzz/TARGET.dict. New inputs go to BUILD_DIR/corpus/TARGET (kept between
# runs, never committed); a crash, leak, timeout or sanitizer report
# stops the run with its input in BUILD_DIR/artifacts/ and a non-zero
# exit. SECONDS 0: replay only.
set -eu
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=${*:-request segment cli}

# Targets print (usage errors, broker log lines) on every input: their
# stdout and stderr are closed (-close_fd_mask=3); libFuzzer and the
# sanitizers still report on a copy of stderr.
common="-close_fd_mask=3 -timeout=20 -rss_limit_mb=2048 -print_final_stats=0"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

for t in $targets; do
    bin=$build/fuzz_$t
    seeds=$here/corpus/$t
    work=$build/corpus/$t
    arts=$build/artifacts
    mkdir -p "$work" "$arts"
    extra="-max_len=8192"
    echo "fuzz: $t: replaying $(ls "$seeds" | wc -l) committed inputs"
    # shellcheck disable=SC2086
    "$bin" $common -runs=0 -artifact_prefix="$arts/$t-" "$seeds" \
        >"$build/$t-replay.log" 2>&1 || {
        cat "$build/$t-replay.log"
        echo "fuzz: $t: a committed input fails" >&2
        exit 1
    }
    [ "$seconds" -gt 0 ] || continue
    echo "fuzz: $t: fuzzing for $seconds s"
    # shellcheck disable=SC2086
    "$bin" $common -max_total_time="$seconds" $extra \
        -dict="$here/$t.dict" -artifact_prefix="$arts/$t-" \
        "$work" "$seeds" >"$build/$t-fuzz.log" 2>&1 || {
        tail -n 60 "$build/$t-fuzz.log"
        echo "fuzz: $t: failed; the input is in $arts/" >&2
        exit 1
    }
    tail -n 1 "$build/$t-fuzz.log"
done
