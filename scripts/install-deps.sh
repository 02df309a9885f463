#!/bin/sh
# Install the Debian 12 packages ipcq needs to build, test and demo, if
# missing. Idempotent; needs root or sudo only when something is missing.
set -eu
PKGS="cmake make gcc pkg-config libnng-dev libprotobuf-c-dev protobuf-c-compiler check python3 python3-protobuf python3-venv python3-setuptools nng-utils protobuf-compiler clang-14 libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
