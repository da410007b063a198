package blend

import "image"

// Alpha mixes src over dst with the mask as weight: dst·(1−m) + src·m per
// channel, alpha included, rounded. dst, src and mask (nil: src everywhere)
// must have the same size; the result has dst's bounds.
func Alpha(dst, src *image.RGBA, mask *image.Gray) (*image.RGBA, error) {
	if err := sameSize([]string{"dst", "src"}, dst, src); err != nil {
		return nil, err
	}
	if err := checkMask(dst, "dst", mask); err != nil {
		return nil, err
	}
	out := image.NewRGBA(dst.Rect)
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	parallel(h, w, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			d, s, m, o := rowRGBA(dst, y), rowRGBA(src, y), rowGray(mask, y), rowRGBA(out, y)
			if m == nil {
				copy(o, s)
				continue
			}
			alphaRow(o, d, s, m)
		}
	})
	return out, nil
}

// alphaRow blends one row; o may alias neither d nor s.
func alphaRow(o, d, s, m []uint8) {
	for x, k := range m {
		i := 4 * x
		switch k {
		case 0:
			copy(o[i:i+4], d[i:i+4])
		case 255:
			copy(o[i:i+4], s[i:i+4])
		default:
			a, b := uint32(k), 255-uint32(k)
			for c := i; c < i+4; c++ {
				o[c] = uint8((uint32(s[c])*a + uint32(d[c])*b + 127) / 255)
			}
		}
	}
}
