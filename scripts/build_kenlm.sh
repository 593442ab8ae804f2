#!/usr/bin/env bash
# Build kenlm's `lmplz` and `build_binary` from the kenlm sdist on PyPI into $VENV/bin.
# Idempotent: does nothing when both binaries already run.
# Needs: cmake, a C++ compiler, Boost (program_options, system, thread), zlib, bz2, lzma dev files
# (scripts/setup.sh installs them).
set -euo pipefail
VENV=${1:-.venv}
KENLM_VERSION=0.3.0
BIN="$VENV/bin"
help_text=$("$BIN/lmplz" --help 2>&1 || true)  # lmplz --help exits 1
if [ -x "$BIN/build_binary" ] && [[ $help_text == *Kneser-Ney* ]]; then
  echo "[kenlm] lmplz and build_binary already in $BIN"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "[kenlm] fetching kenlm==$KENLM_VERSION sdist from PyPI"
"$BIN/python" - "$KENLM_VERSION" "$work" <<'PY'
# Find the sdist on PyPI's simple index (the JSON API is not always reachable).
import re, sys, urllib.request
version, dest = sys.argv[1], sys.argv[2]
with urllib.request.urlopen("https://pypi.org/simple/kenlm/", timeout=60) as r:
    page = r.read().decode()
m = re.search(r'href="([^"#]*kenlm-' + re.escape(version) + r'\.tar\.gz)', page)
if m is None:
    sys.exit(f"kenlm {version} sdist not found on PyPI's simple index")
urllib.request.urlretrieve(m.group(1), f"{dest}/kenlm-{version}.tar.gz")
PY
tar -xzf "$work"/kenlm-*.tar.gz -C "$work"
src=$(find "$work" -maxdepth 1 -type d -name 'kenlm-*' | head -n 1)
echo "[kenlm] building lmplz and build_binary (cmake, $(nproc) jobs)"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER=10 >"$work/cmake.log" 2>&1 \
  || { cat "$work/cmake.log"; echo "[kenlm] cmake failed: install boost/zlib dev packages (bash scripts/setup.sh)" >&2; exit 1; }
cmake --build "$work/build" --target lmplz build_binary -j "$(nproc)" >"$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log"; echo "[kenlm] build failed" >&2; exit 1; }
install -m 755 "$work/build/bin/lmplz" "$work/build/bin/build_binary" "$BIN/"
echo "[kenlm] installed $BIN/lmplz and $BIN/build_binary"
