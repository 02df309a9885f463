#!/bin/sh
# Install what ipcq-bench's comparison peers need (docs/bench.md,
# "Comparison peers"): ZeroMQ, Redis and hiredis from Debian, and gnuplot
# for bench/plot.sh (not needed by make test). Idempotent:
# packages already installed are left alone. Runs apt-get as root, or
# through sudo. The ring, POSIX mq and Python peers need nothing extra
# (Python's multiprocessing comes with /usr/bin/python3).
#
# After installing, re-run cmake so that it finds libzmq and hiredis.
set -eu

PKGS="libzmq3-dev redis-server libhiredis-dev python3 gnuplot-nox"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "install-peers: all present: $PKGS"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-peers: need root or sudo to install:$missing" >&2
	exit 1
fi

echo "install-peers: installing:$missing"
# The packaged redis-server starts a system service on install where an
# init system runs; the bench never uses it (it starts its own server on a
# unix socket), so refuse service starts during this install.
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086 # one word per package
$SUDO env RUNLEVEL=1 apt-get install -y --no-install-recommends $missing
echo "install-peers: done; re-run cmake so that it finds libzmq and hiredis"
