package animate

import (
	"image"
	"math"
	"sort"

	"github.com/facesynth/facesynth/internal/face"
)

// palette holds the colours the mouth interior is painted with, linear in
// 0..255 sRGB values (the interior is small and dark; gamma does not
// matter at this scale).
type palette struct {
	teeth, cavity, tongue [3]float64
}

// samplePalette picks the interior colours from the photo: its own teeth
// and mouth shadow when it shows them (so that the painted interior takes
// over from the stretched real one without a change of colour), otherwise
// teeth of a plausible off-white exposed like the skin and a cavity and
// tongue darkened from the lip colour.
func samplePalette(img *image.RGBA, pts []face.Point, f frame, g restGeometry) palette {
	at := func(p face.Point, r int) [3]float64 {
		var s [3]float64
		n := 0.0
		for y := int(p.Y) - r; y <= int(p.Y)+r; y++ {
			for x := int(p.X) - r; x <= int(p.X)+r; x++ {
				if !image.Pt(x, y).In(img.Rect) {
					continue
				}
				c := img.RGBAAt(x, y)
				s[0], s[1], s[2] = s[0]+float64(c.R), s[1]+float64(c.G), s[2]+float64(c.B)
				n++
			}
		}
		if n == 0 {
			return [3]float64{128, 128, 128}
		}
		return [3]float64{s[0] / n, s[1] / n, s[2] / n}
	}
	mid := func(a, b int) face.Point {
		return face.Point{X: (pts[a].X + pts[b].X) / 2, Y: (pts[a].Y + pts[b].Y) / 2}
	}
	var lip [3]float64
	lipPairs := [][2]int{{50, 61}, {51, 62}, {52, 63}, {58, 67}, {57, 66}, {56, 65}}
	for _, pr := range lipPairs {
		c := at(mid(pr[0], pr[1]), 1)
		for k := range lip {
			lip[k] += c[k] / float64(len(lipPairs))
		}
	}
	var skin [3]float64
	extras := withExtras(pts, pts, f)[face.NumLandmarks+numForehead:][:numCheeks]
	for _, p := range extras {
		c := at(p, 2)
		for k := range skin {
			skin[k] += c[k] / float64(len(extras))
		}
	}
	var pal palette
	expo := clamp(luma(skin)/160, 0.55, 1.15)
	pal.teeth = [3]float64{215 * expo, 208 * expo, 192 * expo}
	// A mouth's shadow is a deep red-brown, not black: the lip colour
	// darkened.
	pal.cavity = scale(lip, 0.28)
	if g.gap >= 0.05*f.s {
		// The photo shows its mouth interior: brightest and darkest parts.
		var px [][3]float64
		poly := pts[60:68]
		x0, y0, x1, y1 := polyBounds(poly)
		for y := int(math.Floor(y0)); y <= int(math.Ceil(y1)); y++ {
			for x := int(math.Floor(x0)); x <= int(math.Ceil(x1)); x++ {
				if image.Pt(x, y).In(img.Rect) && polygonDistance(poly, float64(x), float64(y)) > 0.5 {
					c := img.RGBAAt(x, y)
					px = append(px, [3]float64{float64(c.R), float64(c.G), float64(c.B)})
				}
			}
		}
		if len(px) >= 10 {
			sort.Slice(px, func(i, j int) bool { return luma(px[i]) < luma(px[j]) })
			dark, bright := meanOf(px[:len(px)/5+1]), meanOf(px[len(px)*7/10:])
			if luma(bright) > luma(pal.cavity)+40 {
				pal.teeth = bright
			}
			if luma(dark) < luma(lip)*0.6 {
				pal.cavity = lerp3(pal.cavity, dark, 0.5)
			}
		}
	}
	// The tongue: a muted, darker red than the lips.
	pal.tongue = [3]float64{0.78 * lip[0], 0.5 * lip[1], 0.5 * lip[2]}
	return pal
}

func luma(c [3]float64) float64 { return 0.299*c[0] + 0.587*c[1] + 0.114*c[2] }

func scale(c [3]float64, k float64) [3]float64 { return [3]float64{c[0] * k, c[1] * k, c[2] * k} }

func meanOf(px [][3]float64) [3]float64 {
	var s [3]float64
	for _, c := range px {
		s[0], s[1], s[2] = s[0]+c[0], s[1]+c[1], s[2]+c[2]
	}
	return scale(s, 1/float64(len(px)))
}

func lerp3(a, b [3]float64, t float64) [3]float64 {
	return [3]float64{a[0] + (b[0]-a[0])*t, a[1] + (b[1]-a[1])*t, a[2] + (b[2]-a[2])*t}
}

// Mouth interior proportions, in inner-mouth widths (60→64).
const (
	upperTeeth = 0.10 // visible height of the upper incisors below the lip
	lowerTeeth = 0.06 // of the lower ones, when the jaw is well open
)

// paintMouth paints the mouth interior between the inner lips pts[60:68]
// of a rendered frame: a dark cavity that lightens toward the corners, the
// upper teeth as a band hanging from the upper lip (shaded at the sides
// and just under the lip), the tongue and lower teeth once the jaw is well
// open. It fades in as the lips part beyond the photo's own opening, which
// the warp already shows stretched, and its edge is antialiased over a
// pixel, so it blends into the warped lips.
func (a *Animator) paintMouth(dst *image.RGBA, pts []face.Point) {
	p0, p1 := pts[60], pts[64]
	w := math.Hypot(p1.X-p0.X, p1.Y-p0.Y)
	if w < 2 {
		return
	}
	ax := face.Point{X: (p1.X - p0.X) / w, Y: (p1.Y - p0.Y) / w}
	n := face.Point{X: -ax.Y, Y: ax.X}
	if n.X*a.fr.ey.X+n.Y*a.fr.ey.Y < 0 {
		n = face.Point{X: -n.X, Y: -n.Y}
	}
	tq := func(p face.Point) (t, q float64) {
		dx, dy := p.X-p0.X, p.Y-p0.Y
		return (dx*ax.X + dy*ax.Y) / w, dx*n.X + dy*n.Y
	}
	_, qTop := tq(pts[62])
	_, qBot := tq(pts[66])
	s := a.fr.s
	open := smoothstep(a.geo.gap+0.02*s, a.geo.gap+0.07*s, qBot-qTop)
	if open == 0 {
		return
	}
	var upper, lower [5][2]float64
	for k, i := range [5]int{60, 61, 62, 63, 64} {
		upper[k][0], upper[k][1] = tq(pts[i])
	}
	for k, i := range [5]int{60, 67, 66, 65, 64} {
		lower[k][0], lower[k][1] = tq(pts[i])
	}
	var smooth [8 * mouthSubdiv]face.Point
	poly := roundedLoop(pts[60:68], smooth[:])
	x0, y0, x1, y1 := polyBounds(poly)
	r := image.Rect(int(math.Floor(x0))-1, int(math.Floor(y0))-1, int(math.Ceil(x1))+2, int(math.Ceil(y1))+2).
		Intersect(image.Rect(0, 0, dst.Rect.Dx(), dst.Rect.Dy()))
	pal := a.mouth
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			fx, fy := float64(x), float64(y)
			alpha := clamp(polygonDistance(poly, fx, fy)+0.5, 0, 1) * open
			if alpha <= 0 {
				continue
			}
			t, q := tq(face.Point{X: fx, Y: fy})
			top, bot := chainAt(&upper, t), chainAt(&lower, t)
			h := math.Max(bot-top, 0.5)
			depth, fromBot := q-top, bot-q
			side := math.Abs(t - 0.5)
			centre := 1 - smoothstep(0.22, 0.5, side)

			// The cavity: darkest in the shadow under the upper teeth,
			// lighter toward the floor of the mouth and the cheeks.
			col := scale(pal.cavity, 0.7+0.5*clamp(depth/h, 0, 1)+0.3*(1-centre))
			// Tongue in the lower part of a well-open mouth.
			tw := 0.85 * centre * smoothstep(0.12*w, 0.3*w, h) * (1 - smoothstep(0.2*h, 0.5*h, fromBot))
			col = lerp3(col, pal.tongue, tw)
			// Lower teeth just above the lower lip, mostly hidden by it.
			lw := 0.35 * centre * smoothstep(0.2*w, 0.3*w, h) * (1 - smoothstep(lowerTeeth*w-0.7, lowerTeeth*w+0.7, fromBot))
			col = lerp3(col, scale(pal.teeth, 0.8), lw)
			// Upper teeth: a band under the lip, a little longer at the
			// centre (the incisors), shadowed right under the lip, greyer
			// toward the biting edge and receding into shade toward the
			// corners.
			band := upperTeeth * w * (0.8 + 0.2*centre)
			uw := (1 - smoothstep(0.32, 0.5, side)) * (1 - smoothstep(band-0.7, band+0.7, depth))
			shade := (0.8 + 0.2*centre) * (1 - 0.2*math.Exp(-math.Max(depth, 0)/0.8)) * (1 - 0.1*clamp(depth/band, 0, 1))
			col = lerp3(col, scale(pal.teeth, shade), uw)

			i := dst.PixOffset(dst.Rect.Min.X+x, dst.Rect.Min.Y+y)
			px := dst.Pix[i : i+3 : i+3]
			for k := range px {
				px[k] = uint8(clamp(math.Round(float64(px[k])*(1-alpha)+col[k]*alpha), 0, 255))
			}
		}
	}
}

// mouthSubdiv is the number of pieces each side of the inner-lip outline
// is drawn with.
const mouthSubdiv = 4

// roundedLoop fills out with a closed Catmull-Rom curve through the points
// of loop, mouthSubdiv samples per side. The curve passes through every
// lip point but rounds the mouth corners, where the straight outline would
// cut a sharp wedge into the cheek.
func roundedLoop(loop []face.Point, out []face.Point) []face.Point {
	n := len(loop)
	out = out[:0]
	for i := range n {
		p0, p1, p2, p3 := loop[(i+n-1)%n], loop[i], loop[(i+1)%n], loop[(i+2)%n]
		for k := range mouthSubdiv {
			t := float64(k) / mouthSubdiv
			t2, t3 := t*t, t*t*t
			b0 := -0.5*t3 + t2 - 0.5*t
			b1 := 1.5*t3 - 2.5*t2 + 1
			b2 := -1.5*t3 + 2*t2 + 0.5*t
			b3 := 0.5*t3 - 0.5*t2
			out = append(out, face.Point{
				X: b0*p0.X + b1*p1.X + b2*p2.X + b3*p3.X,
				Y: b0*p0.Y + b1*p1.Y + b2*p2.Y + b3*p3.Y,
			})
		}
	}
	return out
}

// chainAt interpolates a lip line, given as (t, q) points in order of t,
// at t; beyond its ends it holds the end value.
func chainAt(c *[5][2]float64, t float64) float64 {
	if t <= c[0][0] {
		return c[0][1]
	}
	for k := 1; k < len(c); k++ {
		if t <= c[k][0] {
			d := c[k][0] - c[k-1][0]
			if d <= 0 {
				return c[k][1]
			}
			return c[k-1][1] + (c[k][1]-c[k-1][1])*(t-c[k-1][0])/d
		}
	}
	return c[len(c)-1][1]
}

func polyBounds(poly []face.Point) (x0, y0, x1, y1 float64) {
	x0, y0 = math.Inf(1), math.Inf(1)
	x1, y1 = math.Inf(-1), math.Inf(-1)
	for _, p := range poly {
		x0, x1 = math.Min(x0, p.X), math.Max(x1, p.X)
		y0, y1 = math.Min(y0, p.Y), math.Max(y1, p.Y)
	}
	return
}

// polygonDistance is the distance from (x, y) to the polygon's outline,
// positive inside and negative outside (even-odd rule).
func polygonDistance(poly []face.Point, x, y float64) float64 {
	best := math.Inf(1) // squared
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		a, b := poly[i], poly[j]
		dx, dy := b.X-a.X, b.Y-a.Y
		px, py := x-a.X, y-a.Y
		t := px*dx + py*dy
		if l2 := dx*dx + dy*dy; t <= 0 || l2 == 0 {
			t = 0
		} else if t >= l2 {
			t = 1
		} else {
			t /= l2
		}
		ex, ey := px-t*dx, py-t*dy
		if d := ex*ex + ey*ey; d < best {
			best = d
		}
	}
	if !face.InPolygon(poly, x, y) {
		return -math.Sqrt(best)
	}
	return math.Sqrt(best)
}
