package blend

import (
	"math"
	"sync"
)

// CIE Lab under D65, from 8-bit sRGB. The conversion runs for every pixel of
// every face of every frame, so the two transcendental steps are tables:
// the sRGB decode has only 256 inputs, Lab's cube root is interpolated
// linearly from a fine table (error below 1e-3 in L), and the sRGB encode
// is a 65536-entry table indexed by the linear value (error below 0.05 of
// an 8-bit level). A round trip of every 8-bit colour through Lab returns
// the same colour (TestLabRoundTrip).

// sRGB primaries to XYZ (IEC 61966-2-1), with each row already divided by
// the D65 white point so that white maps to (1, 1, 1).
const (
	whiteX, whiteZ = 0.95047, 1.08883

	mXR, mXG, mXB = 0.4124564 / whiteX, 0.3575761 / whiteX, 0.1804375 / whiteX
	mYR, mYG, mYB = 0.2126729, 0.7151522, 0.0721750
	mZR, mZG, mZB = 0.0193339 / whiteZ, 0.1191920 / whiteZ, 0.9503041 / whiteZ

	// The inverse matrix, with the white point multiplied back in.
	iRX, iRY, iRZ = 3.2404542 * whiteX, -1.5371385, -0.4985314 * whiteZ
	iGX, iGY, iGZ = -0.9692660 * whiteX, 1.8760108, 0.0415560 * whiteZ
	iBX, iBY, iBZ = 0.0556434 * whiteX, -0.2040259, 1.0572252 * whiteZ
)

const (
	labDelta = 6.0 / 29
	// labFSteps samples f(t) on [0, labFMax]; normalised XYZ of an 8-bit
	// colour stays within [0, 1] up to rounding.
	labFSteps = 4096
	labFMax   = 1.0 + 1.0/256
	// encodeSteps is the resolution of the linear → sRGB table.
	encodeSteps = 65535
)

var (
	tablesOnce   sync.Once
	decodeSRGB   [256]float32
	labFTable    [labFSteps + 2]float32
	encodeSRGB   [encodeSteps + 1]uint8
	labFPerInput = float32(labFSteps / labFMax)
)

func initTables() {
	tablesOnce.Do(func() {
		for v := range decodeSRGB {
			c := float64(v) / 255
			if c <= 0.04045 {
				decodeSRGB[v] = float32(c / 12.92)
			} else {
				decodeSRGB[v] = float32(math.Pow((c+0.055)/1.055, 2.4))
			}
		}
		for i := range labFTable {
			labFTable[i] = float32(labF(float64(i) * labFMax / labFSteps))
		}
		for i := range encodeSRGB {
			l := float64(i) / encodeSteps
			var c float64
			if l <= 0.0031308 {
				c = 12.92 * l
			} else {
				c = 1.055*math.Pow(l, 1/2.4) - 0.055
			}
			encodeSRGB[i] = uint8(math.Round(255 * c))
		}
	})
}

// labF is CIE Lab's companding function.
func labF(t float64) float64 {
	if t > labDelta*labDelta*labDelta {
		return math.Cbrt(t)
	}
	return t/(3*labDelta*labDelta) + 4.0/29
}

// labFFast is labF from the table; initTables must have run.
func labFFast(t float32) float32 {
	p := t * labFPerInput
	if !(p > 0) { // also NaN
		return labFTable[0]
	}
	if p >= labFSteps {
		return labFTable[labFSteps]
	}
	i := int(p)
	f := p - float32(i)
	return labFTable[i] + f*(labFTable[i+1]-labFTable[i])
}

// labFInv inverts labF.
func labFInv(f float32) float32 {
	if f > labDelta {
		return f * f * f
	}
	return 3 * labDelta * labDelta * (f - 4.0/29)
}

// toLab converts an 8-bit sRGB colour to L (0..100), a and b.
func toLab(r, g, b uint8) (float32, float32, float32) {
	lr, lg, lb := decodeSRGB[r], decodeSRGB[g], decodeSRGB[b]
	fx := labFFast(mXR*lr + mXG*lg + mXB*lb)
	fy := labFFast(mYR*lr + mYG*lg + mYB*lb)
	fz := labFFast(mZR*lr + mZG*lg + mZB*lb)
	return 116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)
}

// fromLab converts Lab back to 8-bit sRGB, clipping colours outside the
// sRGB gamut channel by channel.
func fromLab(l, a, b float32) (uint8, uint8, uint8) {
	fy := (l + 16) / 116
	x := labFInv(fy + a/500)
	y := labFInv(fy)
	z := labFInv(fy - b/200)
	return encode(iRX*x + iRY*y + iRZ*z), encode(iGX*x + iGY*y + iGZ*z), encode(iBX*x + iBY*y + iBZ*z)
}

func encode(lin float32) uint8 {
	if !(lin > 0) {
		return 0
	}
	if lin >= 1 {
		return 255
	}
	return encodeSRGB[int(lin*encodeSteps+0.5)]
}

// unpremultiply returns the colour of a pixel with alpha a (0 < a < 255)
// as it was before premultiplication.
func unpremultiply(r, g, b, a uint8) (uint8, uint8, uint8) {
	un := func(c uint8) uint8 { return uint8(min(255, (uint32(c)*255+uint32(a)/2)/uint32(a))) }
	return un(r), un(g), un(b)
}

// premultiply scales a colour by alpha a, rounding.
func premultiply(r, g, b, a uint8) (uint8, uint8, uint8) {
	pm := func(c uint8) uint8 { return uint8((uint32(c)*uint32(a) + 127) / 255) }
	return pm(r), pm(g), pm(b)
}
