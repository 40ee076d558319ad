#!/usr/bin/env bash
# Installs the Debian packages qinfer needs that are missing (as root, or via sudo).
set -euo pipefail
pkgs=(cmake ninja-build g++ clang libclang-rt-14-dev libgtest-dev libgmock-dev libbenchmark-dev
      nlohmann-json3-dev libcli11-dev libfmt-dev libsqlite3-dev pkg-config libcpp-httplib-dev curl ca-certificates python3
      chromium nodejs npm prometheus
      # the aarch64 cross build (NEON kernels) and qemu-aarch64 to run its tests: ctest -L arm
      g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs from another source (NodeSource) brings its own npm.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}")
  missing=("${missing[@]/npm}")
  read -r -a missing <<<"${missing[*]}"
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The client-side test tools, at the versions tests/node/package-lock.json
# pins, into tests/node/node_modules (ignored by git): the openai client
# (server conformance) and playwright-core (chat page, with Debian's chromium).
node_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/node" && pwd)"
if ! cmp -s "$node_dir/package-lock.json" "$node_dir/node_modules/.installed-lock.json" 2>/dev/null; then
  (cd "$node_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error &&
     cp package-lock.json node_modules/.installed-lock.json)
fi
