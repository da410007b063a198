#!/usr/bin/env bash
# train-syncnet.sh — retrain the lip-sync scorer shipped in
# internal/syncnet/model/scorer.safetensors, from nothing but the sample
# media: render the synthetic talking set (in sync by construction), build
# its aligned samples, train with fixed seeds, and evaluate on the held-out
# split. Every step skips what is done, so a rerun resumes.
# WORK sets the scratch folder (out/syncnet); STEPS the training length.
set -euo pipefail
# libgomp spin-waits by default, which costs 10x on a busy CPU (see internal/syncnet/README.md).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
W=${WORK:-out/syncnet}
BIN=${BIN:-bin/facesynth}
mkdir -p "$W"
set -x
"$BIN" dataset synth --split train -o "$W/videos-train"
"$BIN" dataset synth --split test -o "$W/videos-test"
"$BIN" dataset build "$W"/videos-train/*.mp4 -o "$W/train"
"$BIN" dataset build "$W"/videos-test/*.mp4 -o "$W/test"
"$BIN" train sync --data "$W/train" -o "$W/scorer.safetensors" --steps "${STEPS:-3000}" --seed 1 --eval "$W/test"
# To ship it: cp "$W/scorer.safetensors" internal/syncnet/model/scorer.safetensors
