#!/usr/bin/env bash
# System packages the code executor needs to run all six contest languages (see
# ../shared/data/README.md): Go + testify, boost and OpenSSL headers for C++, the Rust crates
# the prompts use, bubblewrap for the sandbox, and js-md5 for one JavaScript problem.
# Idempotent: checks first, installs only what is missing (as root with apt-get), otherwise
# prints what is missing and exits 0 (tests needing a missing toolchain report it).
set -uo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(golang-go golang-github-stretchr-testify-dev libboost-dev libssl-dev
              librust-regex-dev librust-md5-dev librust-rand-dev bubblewrap tmux)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[system-deps] installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || apt-get update
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || \
      apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "[system-deps] missing (install them as root): ${missing[*]}" >&2
  fi
fi

# Node packages for the JavaScript executor, in a project-local folder (NODE_PATH points here).
NODE_DIR=.cache/node
if command -v npm >/dev/null 2>&1 && [ ! -d "$NODE_DIR/node_modules/js-md5" ]; then
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && [ -f package.json ] || echo '{"name":"workbench-exec-deps","private":true}' > package.json
   npm install --silent --no-audit --no-fund js-md5 >/dev/null 2>&1) || echo "[system-deps] npm install js-md5 failed" >&2
fi
exit 0
