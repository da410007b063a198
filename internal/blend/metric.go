package blend

import (
	"image"
	"math"
)

// seamReach is how far SeamDifference looks to each side of a mask's edge:
// far enough to average out skin texture and a few pixels of feather, near
// enough that real shading across the face does not count as a seam.
const seamReach = 3

// SeamDifference measures how visible a mask's edge is in img: for every
// pixel on the edge (inside, mask ≥ 128, with a 4-neighbour outside), the
// mean colour of the inside pixels and of the outside pixels within
// seamReach (3) pixels of it, their absolute difference averaged over R, G
// and B, and the mean of that along the edge, in 8-bit levels. A colour
// offset between a pasted face and its surroundings shows up in full;
// natural image detail across the edge adds a few levels. A mask with no
// edge in the image (empty, or full) gives 0. img and mask must have the
// same size.
func SeamDifference(img *image.RGBA, mask *image.Gray) (float64, error) {
	if err := sameSize([]string{"img", "mask"}, img, mask); err != nil {
		return 0, err
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	in := func(x, y int) bool { return mask.Pix[y*mask.Stride+x] >= 128 }
	var total float64
	var edge int
	for y := range h {
		for x := range w {
			if !in(x, y) {
				continue
			}
			if !((x > 0 && !in(x-1, y)) || (x < w-1 && !in(x+1, y)) ||
				(y > 0 && !in(x, y-1)) || (y < h-1 && !in(x, y+1))) {
				continue
			}
			var sum [2][3]float64
			var n [2]float64
			for yy := max(0, y-seamReach); yy <= min(h-1, y+seamReach); yy++ {
				for xx := max(0, x-seamReach); xx <= min(w-1, x+seamReach); xx++ {
					side := 1
					if in(xx, yy) {
						side = 0
					}
					p := img.Pix[yy*img.Stride+4*xx:]
					sum[side][0] += float64(p[0])
					sum[side][1] += float64(p[1])
					sum[side][2] += float64(p[2])
					n[side]++
				}
			}
			var d float64
			for c := range 3 {
				d += math.Abs(sum[0][c]/n[0] - sum[1][c]/n[1])
			}
			total += d / 3
			edge++
		}
	}
	if edge == 0 {
		return 0, nil
	}
	return total / float64(edge), nil
}

// RegionFlicker is the mean absolute change from prev to cur over R, G and
// B, in 8-bit levels, each pixel weighted by the mask (nil: everywhere):
// how much a face region changes between consecutive frames. An empty mask
// gives 0. prev, cur and mask must have the same size.
func RegionFlicker(prev, cur *image.RGBA, mask *image.Gray) (float64, error) {
	if err := sameSize([]string{"prev", "cur"}, prev, cur); err != nil {
		return 0, err
	}
	if err := checkMask(prev, "prev", mask); err != nil {
		return 0, err
	}
	w, h := prev.Rect.Dx(), prev.Rect.Dy()
	var sum, weight uint64
	for y := range h {
		a, b, m := rowRGBA(prev, y), rowRGBA(cur, y), rowGray(mask, y)
		for x := range w {
			k := uint64(255)
			if m != nil {
				k = uint64(m[x])
			}
			if k == 0 {
				continue
			}
			i := 4 * x
			d := absDiff(a[i], b[i]) + absDiff(a[i+1], b[i+1]) + absDiff(a[i+2], b[i+2])
			sum += k * uint64(d)
			weight += k
		}
	}
	if weight == 0 {
		return 0, nil
	}
	return float64(sum) / float64(weight) / 3, nil
}

func absDiff(a, b uint8) uint32 {
	if a > b {
		return uint32(a - b)
	}
	return uint32(b - a)
}
