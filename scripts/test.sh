#!/usr/bin/env bash
# test.sh — the test suite, as CI runs it (.ci/run calls this).
# Installs what is missing first (scripts/setup.sh --no-demo), then runs every
# package's tests on the real sample media, including the end-to-end pipeline
# on real clips. Extra arguments go to `go test` (e.g. -short, -run X).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh --no-demo
for g in /usr/local/go/bin /usr/lib/go-1.23/bin; do [[ -x $g/go ]] && export PATH="$g:$PATH" && break; done
go vet ./...
# libgomp spins its idle threads by default, which costs libtorch 3-5x on
# shared cores; the binary re-executes itself with this set (torch.
# PassiveOpenMP), test binaries get it here.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
go test -count=1 -timeout 25m "$@" ./...
