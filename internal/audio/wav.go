package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrWAV is wrapped by every DecodeWAV error.
var ErrWAV = errors.New("audio: not a WAV file this package reads")

// WAV format tags.
const (
	wavPCM        = 1
	wavFloat      = 3
	wavExtensible = 0xfffe // the real tag is the first two bytes of the subformat GUID
)

// DecodeWAV reads a RIFF WAV file held in memory: integer PCM of 8, 16, 24
// or 32 bits, or 32-bit float, any number of channels (mixed down to mono).
// It returns samples in [-1, 1] and the sample rate. A data chunk whose
// size overstates the bytes present is read to the end of the file: that
// is how programs writing WAV to a pipe (espeak-ng --stdout) leave it, as
// they cannot seek back to fill in the size.
func DecodeWAV(b []byte) ([]float32, int, error) {
	le := binary.LittleEndian
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("%w (no RIFF/WAVE header)", ErrWAV)
	}
	var (
		format, channels, bits int
		rate                   int
		haveFmt                bool
	)
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(le.Uint32(b[p+4:]))
		body := b[p+8:]
		switch id {
		case "fmt ":
			if size < 16 || len(body) < 16 {
				return nil, 0, fmt.Errorf("%w (short fmt chunk)", ErrWAV)
			}
			format = int(le.Uint16(body[0:]))
			channels = int(le.Uint16(body[2:]))
			rate = int(le.Uint32(body[4:]))
			bits = int(le.Uint16(body[14:]))
			if format == wavExtensible && size >= 26 && len(body) >= 26 {
				format = int(le.Uint16(body[24:]))
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, 0, fmt.Errorf("%w (data before fmt chunk)", ErrWAV)
			}
			size = min(size, len(body))
			return decodeSamples(body[:size], format, channels, bits, rate)
		}
		if size < 0 || size > len(body) {
			break
		}
		p += 8 + size + size&1 // chunks are padded to even sizes
	}
	return nil, 0, fmt.Errorf("%w (no data chunk)", ErrWAV)
}

func decodeSamples(data []byte, format, channels, bits, rate int) ([]float32, int, error) {
	if channels < 1 || rate <= 0 {
		return nil, 0, fmt.Errorf("%w (%d channels at %d Hz)", ErrWAV, channels, rate)
	}
	var sample func([]byte) float64
	switch {
	case format == wavPCM && bits == 8: // unsigned, centred on 128
		sample = func(p []byte) float64 { return (float64(p[0]) - 128) / 128 }
	case format == wavPCM && bits == 16:
		sample = func(p []byte) float64 { return float64(int16(binary.LittleEndian.Uint16(p))) / 32768 }
	case format == wavPCM && bits == 24:
		sample = func(p []byte) float64 {
			return float64(int32(uint32(p[0])<<8|uint32(p[1])<<16|uint32(p[2])<<24)>>8) / (1 << 23)
		}
	case format == wavPCM && bits == 32:
		sample = func(p []byte) float64 { return float64(int32(binary.LittleEndian.Uint32(p))) / (1 << 31) }
	case format == wavFloat && bits == 32:
		sample = func(p []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(p))) }
	default:
		return nil, 0, fmt.Errorf("%w (format %d with %d bits per sample)", ErrWAV, format, bits)
	}
	width := bits / 8
	frame := width * channels
	out := make([]float32, len(data)/frame)
	for i := range out {
		var sum float64
		for c := 0; c < channels; c++ {
			sum += sample(data[i*frame+c*width:])
		}
		v := sum / float64(channels)
		if math.IsNaN(v) {
			v = 0
		}
		out[i] = float32(max(-1, min(1, v)))
	}
	return out, rate, nil
}
