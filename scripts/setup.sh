#!/usr/bin/env bash
# One-command set-up of unsup-asr on a fresh Debian/Ubuntu machine. Idempotent: a second run only
# checks (well under a minute).
#   1. Debian packages: espeak-ng (phonemisation + demo speech), sox, libsndfile1, and cmake, a C++
#      compiler, Boost, zlib/bz2/lzma dev files to build kenlm's lmplz/build_binary;
#   2. a Python 3.11 virtual environment in .venv with unsup-asr (editable) and its pinned deps;
#   3. kenlm's lmplz and build_binary compiled into .venv/bin.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(espeak-ng libespeak-ng1 sox libsndfile1 cmake build-essential libboost-program-options-dev
  libboost-system-dev libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "[setup] Debian packages present"
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || { echo "[setup] $PYTHON not found: install Python 3.11 (apt-get install python3.11 python3.11-venv)" >&2; exit 1; }
[ -x .venv/bin/python ] || { echo "[setup] creating .venv"; "$PYTHON" -m venv .venv; }

stamp=.venv/.unsup_asr_installed
want=$(sha1sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing unsup-asr and pinned dependencies into .venv (first time: several minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
else
  echo "[setup] Python packages up to date"
fi

bash scripts/build_kenlm.sh .venv
echo "[setup] done: activate with 'source .venv/bin/activate' or call .venv/bin/uasr"
