#!/usr/bin/env bash
# System packages the code executor needs to run all six contest languages (see docs/executor.md
# and ../shared/data/README.md): the compilers and runtimes themselves when missing (g++, a JDK,
# Node + npm, rustc, Go), testify for Go, boost and OpenSSL headers for C++, the Rust crates the
# prompts use (regex, md5; rand comes from the executor's own 0.4 shim), bubblewrap for the
# sandbox, tmux, lld (C++ batches link one program per binary with it), javatuples (MultiPL-E
# Java), and js-md5 for one JavaScript problem.
# Idempotent and quiet: checks first, installs only what is missing (as root with apt-get),
# otherwise prints what is missing and exits 0 (`workbench eval doctor` reports it).
set -uo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(golang-go golang-github-stretchr-testify-dev libboost-dev libssl-dev
              librust-regex-dev librust-md5-dev librust-rand-dev bubblewrap tmux lld
              libjavatuples-java)
# command -> package providing it, installed only when the command is absent (a toolchain from
# elsewhere, e.g. rustup's rustc or a newer JDK, is kept)
declare -A COMMANDS=([g++]=g++ [javac]=default-jdk-headless [node]=nodejs [npm]=npm [rustc]=rustc)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for c in "${!COMMANDS[@]}"; do
  command -v "$c" >/dev/null 2>&1 || missing+=("${COMMANDS[$c]}")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[system-deps] installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
      echo "[system-deps] apt-get failed:" >&2
      tail -20 "$log" >&2
    fi
    rm -f "$log"
  else
    echo "[system-deps] missing (install them as root): ${missing[*]}" >&2
  fi
fi

# Node packages for the JavaScript executor, in a project-local folder (the executor finds it).
NODE_DIR=.cache/node
if command -v npm >/dev/null 2>&1 && [ ! -d "$NODE_DIR/node_modules/js-md5" ]; then
  mkdir -p "$NODE_DIR"
  [ -f "$NODE_DIR/package.json" ] || echo '{"name":"workbench-exec-deps","private":true}' > "$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --silent --no-audit --no-fund js-md5@0.7.3 >/dev/null 2>&1) \
    || echo "[system-deps] npm install js-md5 failed" >&2
fi
exit 0
