package mark

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
)

// Version is the payload version written by this build. It numbers the
// labelling scheme, not facesynth's release, so detectors can tell which
// rules made a mark.
const Version = 1

// Payload is what a mark carries besides its presence. The tool ("facesynth")
// is implied by the key: only facesynth's key finds the mark at all.
type Payload struct {
	Version   uint8
	ContentID uint32 // random per output, to tell one generated file from another
}

// NewPayload is a payload of the current version with a random content id.
func NewPayload() Payload {
	var b [4]byte
	rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return Payload{Version: Version, ContentID: binary.BigEndian.Uint32(b[:])}
}

func (p Payload) String() string { return fmt.Sprintf("v%d/%08x", p.Version, p.ContentID) }

// The message is 64 bits: version (8), content id (32) and a CRC-24 over
// both (24). The CRC is what makes a decoded payload trustworthy: a decoder
// fed pure noise still outputs some 64 bits, and they pass the check with
// probability 2⁻²⁴ ≈ 6·10⁻⁸.
const (
	messageBits = 64
	// The convolutional code is the classic rate-1/2, constraint-length-7
	// code (generators 171 and 133 octal), terminated with 6 zero bits so
	// the Viterbi decoder ends in a known state.
	convK     = 7
	codedBits = 2 * (messageBits + convK - 1) // 140
)

// crc24 is CRC-24 as in OpenPGP (RFC 4880): polynomial 0x864CFB, initial
// value 0xB704CE, bits most significant first.
func crc24(data []byte) uint32 {
	crc := uint32(0xB704CE)
	for _, b := range data {
		crc ^= uint32(b) << 16
		for range 8 {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= 0x864CFB
			}
		}
	}
	return crc & 0xFFFFFF
}

// message packs a payload into its 64 bits, most significant first.
func (p Payload) message() uint64 {
	var b [5]byte
	b[0] = p.Version
	binary.BigEndian.PutUint32(b[1:], p.ContentID)
	return uint64(p.Version)<<56 | uint64(p.ContentID)<<24 | uint64(crc24(b[:]))
}

// payloadFromMessage unpacks 64 decoded bits; ok is false when the CRC
// does not match.
func payloadFromMessage(m uint64) (Payload, bool) {
	p := Payload{Version: uint8(m >> 56), ContentID: uint32(m >> 24)}
	return p, p.message() == m
}

// convolve encodes the 64 message bits (most significant first) into the
// 140 coded bits, each 0 or 1.
func convolve(m uint64) []uint8 {
	out := make([]uint8, 0, codedBits)
	var state uint32 // the last convK-1 input bits, newest in bit 0
	for i := range messageBits + convK - 1 {
		var bit uint32
		if i < messageBits {
			bit = uint32(m>>(messageBits-1-i)) & 1
		}
		reg := state<<1 | bit
		out = append(out, parity(reg&0o171), parity(reg&0o133))
		state = reg & (1<<(convK-1) - 1)
	}
	return out
}

func parity(x uint32) uint8 {
	x ^= x >> 16
	x ^= x >> 8
	x ^= x >> 4
	x ^= x >> 2
	x ^= x >> 1
	return uint8(x & 1)
}

// viterbi finds the message whose coded bits best match soft values
// (positive for a 1 bit, negative for a 0, magnitude for certainty): the
// maximum-likelihood decision for Gaussian noise, which is what the
// correlations are after summing many pixels.
func viterbi(soft []float64) uint64 {
	const states = 1 << (convK - 1)
	const steps = messageBits + convK - 1
	metric := make([]float64, states)
	next := make([]float64, states)
	for s := 1; s < states; s++ {
		metric[s] = -1e300 // the encoder starts in state 0
	}
	// from[t][s] is the predecessor of state s at step t; the input bit is
	// the new state's bit 0.
	var from [steps][states]uint8
	for t := range steps {
		for s := range next {
			next[s] = -1e300
		}
		for s := range states {
			if metric[s] <= -1e299 {
				continue
			}
			for bit := range uint32(2) {
				if t >= messageBits && bit == 1 {
					continue // tail bits are zero
				}
				reg := uint32(s)<<1 | bit
				m := metric[s]
				if parity(reg&0o171) == 1 {
					m += soft[2*t]
				} else {
					m -= soft[2*t]
				}
				if parity(reg&0o133) == 1 {
					m += soft[2*t+1]
				} else {
					m -= soft[2*t+1]
				}
				ns := reg & (states - 1)
				if m > next[ns] {
					next[ns], from[t][ns] = m, uint8(s)
				}
			}
		}
		metric, next = next, metric
	}
	var m uint64
	s := 0 // the tail drives the encoder back to state 0
	for t := steps - 1; t >= 0; t-- {
		if t < messageBits {
			m |= uint64(s&1) << (messageBits - 1 - t)
		}
		s = int(from[t][s])
	}
	return m
}

// listViterbi is the list Viterbi decoder: the listSize messages whose
// coded bits best match soft, best first. When the best one fails the
// CRC, one of the next often passes it: the CRC picks the right message
// out of a short list, which decodes at about 1 dB less signal than the
// single best path. Each further candidate is one more chance for noise to
// pass the CRC (2⁻²⁴ each), so the list stays short (and at most 128,
// which the back pointers have room for).
func listViterbi(soft []float64, listSize int) []uint64 {
	const states = 1 << (convK - 1)
	const steps = messageBits + convK - 1
	L := listSize
	// metric[s*L+r] is the r-th best path metric into state s, or -Inf.
	metric := make([]float64, states*L)
	next := make([]float64, states*L)
	for i := range metric {
		metric[i] = math.Inf(-1)
	}
	metric[0] = 0
	// back[t][s*L+r] is where that path came from: the predecessor's rank,
	// and in bit 7 whether the predecessor was the one with the high bit.
	back := make([][]uint8, steps)
	for t := range steps {
		b := make([]uint8, states*L)
		for ns := range states {
			out := next[ns*L : (ns+1)*L]
			bo := b[ns*L : (ns+1)*L]
			bit := uint32(ns & 1)
			if t >= messageBits && bit == 1 {
				for r := range out {
					out[r] = math.Inf(-1)
				}
				continue
			}
			// The two predecessors and the branch metrics into ns.
			var pm [2]float64
			for h := range 2 {
				s := uint32(ns>>1) | uint32(h)<<(convK-2)
				reg := s<<1 | bit
				m := -soft[2*t] - soft[2*t+1]
				if parity(reg&0o171) == 1 {
					m += 2 * soft[2*t]
				}
				if parity(reg&0o133) == 1 {
					m += 2 * soft[2*t+1]
				}
				pm[h] = m
			}
			lo := metric[(ns>>1)*L : (ns>>1+1)*L]
			hiS := (ns >> 1) | 1<<(convK-2)
			hi := metric[hiS*L : (hiS+1)*L]
			i, j := 0, 0
			for r := range out {
				a, c := math.Inf(-1), math.Inf(-1)
				if i < L {
					a = lo[i] + pm[0]
				}
				if j < L {
					c = hi[j] + pm[1]
				}
				if a >= c {
					out[r], bo[r] = a, uint8(i)
					i++
				} else {
					out[r], bo[r] = c, uint8(j)|0x80
					j++
				}
			}
		}
		back[t] = b
		metric, next = next, metric
	}
	var msgs []uint64
	for r := range L {
		if math.IsInf(metric[r], -1) {
			break
		}
		var m uint64
		s, rank := 0, r
		for t := steps - 1; t >= 0; t-- {
			if t < messageBits {
				m |= uint64(s&1) << (messageBits - 1 - t)
			}
			bp := back[t][s*L+rank]
			prev := s >> 1
			if bp&0x80 != 0 {
				prev |= 1 << (convK - 2)
			}
			s, rank = prev, int(bp&0x7f)
		}
		msgs = append(msgs, m)
	}
	return msgs
}
