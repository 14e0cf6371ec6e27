#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages Lanyard needs to build, test and fuzz. Idempotent and quick
# when nothing is missing: only absent packages go to apt-get. `deps.sh packaging` installs
# what building and checking the .deb needs on top (make package, make package-test);
# `deps.sh containers` the container runtimes of the container integration suite.
set -eu

PACKAGES="
  g++ meson ninja-build pkg-config
  libssl-dev openssl
  libyaml-cpp-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  catch2 libbenchmark-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libboost-dev
  clang libclang-rt-14-dev clang-format
  python3 python3-cryptography python3-jwt python3-grpcio python3-grpc-tools python3-yaml
  systemd
  python3-prometheus-client
  libsystemd-dev dbus-daemon python3-dbus python3-gi
  libtss2-dev swtpm swtpm-tools tpm2-tools
"
if [ "${1:-}" = packaging ]; then
  PACKAGES="build-essential debhelper dpkg-dev fakeroot lintian"
fi
# The container runtimes tests/integration/container_test.py drives (DESIGN.md §8): dockerd,
# podman with runc (crun fails on hybrid cgroups), and busybox-static for the local image.
if [ "${1:-}" = containers ]; then
  PACKAGES="docker.io podman runc uidmap busybox-static"
fi

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
