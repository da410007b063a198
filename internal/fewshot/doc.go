// Package fewshot is a few-shot talking-head model after Zakharov et al.
// 2019, "Few-Shot Adversarial Learning of Realistic Neural Talking Head
// Models": an embedder E turns a few frames of a person (with their
// landmark sketches) into an identity vector ê; a generator G draws that
// person for any landmark sketch, its AdaIN layers scaled and shifted by
// ψ̂ = P·ê; a projection discriminator D judges realism per training
// video. Meta-learning (MetaTrain) runs episodes over many people's
// videos; fine-tuning (FineTune) adapts G and D to a new person from K
// frames, a single photo included.
//
//	dataset folder (facesynth dataset build) ─ MetaTrain ─ meta folder
//	K target frames ─ FineTune(meta) ─ Renderer ─ face crop for any landmarks ─ paste into the frame
//
// What differs from the paper, and why:
//
//   - No VGG19/VGGFace perceptual loss: their weights cannot be fetched
//     here. The content loss is a face-weighted L1 plus DSSIM; D's feature
//     matching (the paper's L_FM) stands in for the perceptual part.
//   - 64 px crops, embeddings of 128 and networks of 32–128 channels (the
//     paper: 256 px, 512, up to 512 channels), no self-attention: sized
//     for a two-core CPU, where a step of two episodes takes well under a
//     second.
//   - Landmark sketches are portrait's three-channel line drawings, and the
//     crop is facesynth's aligned face crop, so G draws a face normalised
//     for position and scale; the renderer pastes it inside the face's
//     hull and leaves background and hair to the frame (the paper draws
//     the whole frame).
//   - The match loss ‖W_i − ê_i‖₁ is averaged over dimensions, and the
//     real frame's D features for feature matching come from D's own
//     update pass (one discriminator pass fewer per step).
package fewshot
