#!/usr/bin/env bash
# demo.sh — the main job on the real sample media (run by scripts/setup.sh):
# a draft face swap, franck.mp4's face onto cap13_edit2.mp4, then verify its
# label; then the astronaut photo speaks jfk.wav. Results go to out/demo/. DEMO_TIME sets the training time (3m).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
M=${FACESYNTH_MEDIA:-$ROOT/.cache/media}
OUT=out/demo
mkdir -p "$OUT"
set -x
bin/facesynth detect "$M/astronaut.png"
bin/facesynth swap "$M/franck.mp4" "$M/cap13_edit2.mp4" -o "$OUT/swap.mp4" --time "${DEMO_TIME:-3m}"
bin/facesynth verify "$OUT/swap.mp4"
bin/facesynth talk --photo "$M/astronaut.png" --audio "$M/jfk.wav" -o "$OUT/talk.mp4"
bin/facesynth verify "$OUT/talk.mp4"
