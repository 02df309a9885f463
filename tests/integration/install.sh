#!/usr/bin/env bash
# install.sh — `cmake --install` gives another project what it needs:
# pkg-config (`pkg-config --cflags --libs ipcq`) and a CMake package
# (`find_package(ipcq)`, target ipcq::ipcq). Both consumers are built
# against a temporary prefix and run.
#
#   tests/integration/install.sh BUILD_DIR
set -uo pipefail

build=${1:?usage: install.sh BUILD_DIR}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "install: FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$dir/prefix" >"$dir/install.log" 2>&1 ||
	fail "cmake --install: $(tail -3 "$dir/install.log")"
libdir=$(dirname "$(find "$dir/prefix" -name 'libipcq.so' | head -1)")
[ -d "$libdir" ] || fail "no libipcq.so installed"

cat >"$dir/app.c" <<'C'
#include <ipcq.h>
#include <stdio.h>
#include <string.h>
int main(void) {
	char url[512];
	if (ipcq_default_url(url, sizeof(url)) != 0) return 1;
	printf("%s %s\n", ipcq_err_name(IPCQ_EOF), strncmp(url, "ipc://", 6) == 0 ? "ok" : url);
	return strcmp(ipcq_strerror(IPCQ_EOF), "end of stream") != 0;
}
C

# pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
flags=$(pkg-config --cflags --libs ipcq) || fail "pkg-config ipcq"
# shellcheck disable=SC2086 # word splitting of flags is meant
cc ${IPCQ_TEST_CFLAGS:-} -o "$dir/app-pc" "$dir/app.c" $flags || fail "cc with pkg-config flags"
out=$(LD_LIBRARY_PATH=$libdir "$dir/app-pc") || fail "app (pkg-config) ran badly"
[ "$out" = "EOF ok" ] || fail "app (pkg-config) printed '$out'"

# find_package
mkdir -p "$dir/proj"
cp "$dir/app.c" "$dir/proj/"
cat >"$dir/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(ipcq REQUIRED)
add_executable(app app.c)
target_link_libraries(app PRIVATE ipcq::ipcq)
CM
cmake -S "$dir/proj" -B "$dir/proj/build" -DCMAKE_PREFIX_PATH="$dir/prefix" \
    -DCMAKE_C_FLAGS="${IPCQ_TEST_CFLAGS:-}" \
    >"$dir/cm.log" 2>&1 || fail "find_package(ipcq): $(tail -5 "$dir/cm.log")"
cmake --build "$dir/proj/build" >"$dir/cb.log" 2>&1 ||
	fail "build with ipcq::ipcq: $(tail -5 "$dir/cb.log")"
out=$("$dir/proj/build/app") || fail "app (find_package) ran badly"
[ "$out" = "EOF ok" ] || fail "app (find_package) printed '$out'"

# The installed broker and CLI find the installed library by themselves.
"$dir/prefix/bin/ipcqd" --version >/dev/null || fail "installed ipcqd does not run"
echo "install: ok"
