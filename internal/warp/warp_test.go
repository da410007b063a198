package warp

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/facesynth/facesynth/internal/detect/detecttest"
	"github.com/facesynth/facesynth/internal/face"
	"github.com/facesynth/facesynth/internal/media"
	"github.com/facesynth/facesynth/internal/testmedia"
)

// astronaut is the 512×512 photo with dlib's 68 landmarks of its face and a
// ring of 20 anchors half an eye distance around them.
func astronaut(t testing.TB) (*image.RGBA, []face.Point) {
	t.Helper()
	img, err := media.LoadImage(testmedia.Path(t, "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	lm := detecttest.RealFaces(t, "astronaut")[0].Landmarks
	pts := append([]face.Point(nil), lm...)
	pts = append(pts, Ring(lm, 0, 0.5*face.EyeDistance(lm), 20)...)
	return img, pts
}

func clone(img *image.RGBA) *image.RGBA {
	out := image.NewRGBA(img.Rect)
	copy(out.Pix, img.Pix)
	return out
}

func area(pts []face.Point, t Triangle) float64 { return orient(pts[t[0]], pts[t[1]], pts[t[2]]) / 2 }

// hullArea is the area of the convex hull of pts (monotone chain).
func hullArea(pts []face.Point) float64 {
	p := append([]face.Point(nil), pts...)
	for i := 1; i < len(p); i++ { // insertion sort by (x, y): few points
		for j := i; j > 0 && (p[j].X < p[j-1].X || p[j].X == p[j-1].X && p[j].Y < p[j-1].Y); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
	var h []face.Point
	for pass := 0; pass < 2; pass++ {
		start := len(h)
		for _, q := range p {
			for len(h) >= start+2 && orient(h[len(h)-2], h[len(h)-1], q) <= 0 {
				h = h[:len(h)-1]
			}
			h = append(h, q)
		}
		h = h[:len(h)-1]
		for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
			p[i], p[j] = p[j], p[i]
		}
	}
	a := 0.0
	for i := range h {
		j := (i + 1) % len(h)
		a += h[i].X*h[j].Y - h[j].X*h[i].Y
	}
	return math.Abs(a) / 2
}

// checkDelaunay asserts a proper triangulation of pts: positive triangles
// that tile the convex hull, no point inside any triangle's circumcircle,
// every point used.
func checkDelaunay(t *testing.T, name string, pts []face.Point, tris []Triangle) {
	t.Helper()
	sum := 0.0
	used := make([]bool, len(pts))
	for _, tr := range tris {
		a := area(pts, tr)
		if !(a > 0) {
			t.Errorf("%s: triangle %v has area %g", name, tr, a)
		}
		sum += a
		for _, i := range tr {
			used[i] = true
		}
		// The circumcircle, computed directly, must hold no other point.
		ax, ay := pts[tr[0]].X, pts[tr[0]].Y
		bx, by := pts[tr[1]].X, pts[tr[1]].Y
		cx, cy := pts[tr[2]].X, pts[tr[2]].Y
		d := 2 * (ax*(by-cy) + bx*(cy-ay) + cx*(ay-by))
		ux := ((ax*ax+ay*ay)*(by-cy) + (bx*bx+by*by)*(cy-ay) + (cx*cx+cy*cy)*(ay-by)) / d
		uy := ((ax*ax+ay*ay)*(cx-bx) + (bx*bx+by*by)*(ax-cx) + (cx*cx+cy*cy)*(bx-ax)) / d
		r := math.Hypot(ax-ux, ay-uy)
		for i, p := range pts {
			if i != tr[0] && i != tr[1] && i != tr[2] && math.Hypot(p.X-ux, p.Y-uy) < r*(1-1e-9) {
				t.Errorf("%s: point %d %v inside the circumcircle of %v", name, i, p, tr)
			}
		}
	}
	if h := hullArea(pts); math.Abs(sum-h) > 1e-9*h {
		t.Errorf("%s: triangles cover %g, the hull is %g", name, sum, h)
	}
	for i, u := range used {
		if !u {
			t.Errorf("%s: point %d %v is in no triangle", name, i, pts[i])
		}
	}
}

func TestTriangulateIsDelaunay(t *testing.T) {
	_, face68 := astronaut(t)
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]face.Point, 200)
	for i := range random {
		random[i] = face.Point{X: rng.Float64() * 1000, Y: rng.Float64() * 600}
	}
	// A grid has co-circular quadruples and collinear hull points, the
	// degenerate cases of the predicates.
	var grid []face.Point
	for y := 0; y < 7; y++ {
		for x := 0; x < 9; x++ {
			grid = append(grid, face.Point{X: float64(x) * 10, Y: float64(y) * 10})
		}
	}
	for _, c := range []struct {
		name      string
		pts       []face.Point
		triangles int
	}{
		// n points with h on the hull (none collinear) give 2n-h-2
		// triangles: 3 for a square with its centre, 2·63-24-2 for the grid.
		{"square", []face.Point{{X: 0, Y: 0}, {X: 4, Y: 0}, {X: 4, Y: 4}, {X: 0, Y: 4}, {X: 2, Y: 2}}, 4},
		{"grid", grid, 2*len(grid) - 2 - 28},
		{"random", random, -1},
		{"face", face68, -1},
	} {
		tris, err := Triangulate(c.pts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.triangles >= 0 && len(tris) != c.triangles {
			t.Errorf("%s: %d triangles, want %d", c.name, len(tris), c.triangles)
		}
		checkDelaunay(t, c.name, c.pts, tris)
	}
}

func TestTriangulateBadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		pts  []face.Point
		want string
	}{
		{"two", []face.Point{{X: 0, Y: 0}, {X: 1, Y: 1}}, "need at least 3"},
		{"nan", []face.Point{{X: 0, Y: 0}, {X: 1, Y: 1}, {X: math.NaN(), Y: 0}}, "not finite"},
		{"same", []face.Point{{X: 3, Y: 3}, {X: 3, Y: 3}, {X: 3, Y: 3}}, "coincide"},
		{"line", []face.Point{{X: 0, Y: 0}, {X: 1, Y: 1}, {X: 2, Y: 2}, {X: 5, Y: 5}}, "one line"},
	} {
		_, err := Triangulate(c.pts)
		if err == nil || !strings.HasPrefix(err.Error(), "warp: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want warp: …%s…", c.name, err, c.want)
		}
	}
	// Duplicates are used once.
	tris, err := Triangulate([]face.Point{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 0}, {X: 0, Y: 1}})
	if err != nil || len(tris) != 1 {
		t.Errorf("with a duplicate: %v, %v; want one triangle", tris, err)
	}
}

// Moving nothing copies every pixel: bit exact, for RGBA and converted
// sources alike.
func TestWarpIdentityIsExact(t *testing.T) {
	img, pts := astronaut(t)
	out, err := Warp(img, pts, pts)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffCount(out, img); d != 0 {
		t.Errorf("RGBA source: %d pixels changed", d)
	}
	nrgba := image.NewNRGBA(img.Rect)
	draw.Draw(nrgba, img.Rect, img, image.Point{}, draw.Src)
	out, err = Warp(nrgba, pts, pts)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffCount(out, img); d != 0 {
		t.Errorf("NRGBA source: %d pixels changed", d)
	}
}

func diffCount(a, b *image.RGBA) int {
	n := 0
	for y := 0; y < a.Rect.Dy(); y++ {
		for x := 0; x < a.Rect.Dx(); x++ {
			i, j := a.PixOffset(a.Rect.Min.X+x, a.Rect.Min.Y+y), b.PixOffset(b.Rect.Min.X+x, b.Rect.Min.Y+y)
			if a.Pix[i] != b.Pix[j] || a.Pix[i+1] != b.Pix[j+1] || a.Pix[i+2] != b.Pix[j+2] || a.Pix[i+3] != b.Pix[j+3] {
				n++
			}
		}
	}
	return n
}

// An affine map of all points moves every covered pixel by that map: an
// integer shift exactly, a rotation with scaling to within a grey level of
// bilinear sampling done independently in floating point.
func TestWarpKnownAffine(t *testing.T) {
	img, pts := astronaut(t)
	cx, cy := 220.0, 130.0
	for _, c := range []struct {
		name               string
		a, b, tx, d, e, ty float64 // to = M·(from - c) + c + t
		tol                int
	}{
		{"shift", 1, 0, 7, 0, 1, -4, 0},
		{"rotate-scale", 1.05 * math.Cos(0.1), -1.05 * math.Sin(0.1), 2.5, 1.05 * math.Sin(0.1), 1.05 * math.Cos(0.1), -1.25, 1},
	} {
		to := make([]face.Point, len(pts))
		for i, p := range pts {
			x, y := p.X-cx, p.Y-cy
			to[i] = face.Point{X: c.a*x + c.b*y + cx + c.tx, Y: c.d*x + c.e*y + cy + c.ty}
		}
		out, err := Warp(img, pts, to)
		if err != nil {
			t.Fatal(err)
		}
		det := c.a*c.e - c.b*c.d
		worst, n := 0, 0
		// Check the pixels well inside the moved face.
		for y := 90; y < 170; y++ {
			for x := 190; x < 260; x++ {
				u, v := float64(x)-cx-c.tx, float64(y)-cy-c.ty
				sx := (c.e*u-c.b*v)/det + cx
				sy := (-c.d*u+c.a*v)/det + cy
				want := bilinearRef(img, sx, sy)
				got := out.RGBAAt(x, y)
				for k, g := range [3]uint8{got.R, got.G, got.B} {
					worst = max(worst, int(math.Abs(float64(g)-want[k])+0.5))
				}
				n++
			}
		}
		if worst > c.tol {
			t.Errorf("%s: worst difference %d grey levels over %d pixels, want <= %d", c.name, worst, n, c.tol)
		}
	}
}

func bilinearRef(img *image.RGBA, x, y float64) [3]float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	var out [3]float64
	for _, n := range []struct{ dx, dy, w float64 }{{0, 0, (1 - fx) * (1 - fy)}, {1, 0, fx * (1 - fy)}, {0, 1, (1 - fx) * fy}, {1, 1, fx * fy}} {
		c := img.RGBAAt(int(x0+n.dx), int(y0+n.dy))
		out[0] += float64(c.R) * n.w
		out[1] += float64(c.G) * n.w
		out[2] += float64(c.B) * n.w
	}
	return out
}

// Pixels outside the mesh keep their value, every pixel centre inside it is
// written, and no pixel is written by two triangles.
func TestWarpCoversMeshExactlyOnce(t *testing.T) {
	_, pts := astronaut(t)
	to := jawDrop(pts, 12)
	m, err := NewMesh(pts)
	if err != nil {
		t.Fatal(err)
	}
	white := image.NewRGBA(image.Rect(0, 0, 512, 512))
	draw.Draw(white, white.Rect, image.NewUniform(color.White), image.Point{}, draw.Src)
	count := make([]int, 512*512)
	for _, tr := range m.Triangles() {
		one := image.NewRGBA(image.Rect(0, 0, 512, 512))
		drawTriangle(one, white, [3]face.Point{pts[tr[0]], pts[tr[1]], pts[tr[2]]},
			[3]face.Point{to[tr[0]], to[tr[1]], to[tr[2]]}, 0, 512)
		for i := range count {
			if one.Pix[4*i] != 0 {
				count[i]++
			}
		}
	}
	hull := ringPolygon(to[68:])
	inside, outside := 0, 0
	for y := 0; y < 512; y++ {
		for x := 0; x < 512; x++ {
			c := count[y*512+x]
			in := face.InPolygon(hull, float64(x), float64(y))
			switch {
			case c > 1:
				t.Fatalf("pixel (%d,%d) drawn %d times", x, y, c)
			case in && c == 0:
				t.Fatalf("pixel (%d,%d) inside the mesh not drawn", x, y)
			case !in && c == 1 && !onPolygon(hull, float64(x), float64(y)):
				t.Fatalf("pixel (%d,%d) outside the mesh drawn", x, y)
			}
			if in {
				inside++
			} else {
				outside++
			}
		}
	}
	// Through Warp: a marker colour survives exactly outside.
	marker := image.NewRGBA(image.Rect(0, 0, 512, 512))
	draw.Draw(marker, marker.Rect, image.NewUniform(color.RGBA{1, 2, 3, 255}), image.Point{}, draw.Src)
	if err := m.Warp(marker, white, pts, to); err != nil {
		t.Fatal(err)
	}
	kept := 0
	for i := 0; i < 512*512; i++ {
		if marker.Pix[4*i] == 1 {
			kept++
			if count[i] != 0 {
				t.Fatalf("pixel %d inside the mesh kept its value", i)
			}
		}
	}
	if kept < outside-200 || kept > outside {
		t.Errorf("%d pixels kept, %d lie outside the mesh", kept, outside)
	}
	t.Logf("mesh covers %d pixels, %d outside", inside, outside)
}

// ringPolygon is the anchors as a polygon (they are in angular order).
func ringPolygon(ring []face.Point) []face.Point { return ring }

// onPolygon: within a hair of an edge, where the two half-open rules may
// legitimately disagree.
func onPolygon(poly []face.Point, x, y float64) bool {
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		a, b := poly[i], poly[j]
		l := math.Hypot(b.X-a.X, b.Y-a.Y)
		if math.Abs(orient(a, b, face.Point{X: x, Y: y}))/l < 1e-6 {
			return true
		}
	}
	return false
}

// jawDrop moves the chin, jaw and lower lip of the 68 points down by up to
// px pixels, leaving the anchors.
func jawDrop(pts []face.Point, px float64) []face.Point {
	to := append([]face.Point(nil), pts...)
	w := map[int]float64{4: 0.2, 5: 0.4, 6: 0.7, 7: 0.9, 8: 1, 9: 0.9, 10: 0.7, 11: 0.4, 12: 0.2,
		55: 0.8, 56: 0.95, 57: 1, 58: 0.95, 59: 0.8, 65: 0.9, 66: 1, 67: 0.9, 48: 0.4, 54: 0.4, 60: 0.4, 64: 0.4}
	for i, k := range w {
		to[i].Y += k * px
	}
	return to
}

// A smooth deformation of moderate size (a swirl and a bulge of up to a
// sixth of the eye distance) turns no triangle over; swapping two
// neighbours does.
func TestFoldedModerateAndGross(t *testing.T) {
	_, pts := astronaut(t)
	m, err := NewMesh(pts)
	if err != nil {
		t.Fatal(err)
	}
	if f := m.Folded(pts); f != 0 {
		t.Fatalf("layout itself: %d folded", f)
	}
	c := face.Point{X: 224, Y: 128}
	eye := face.EyeDistance(pts[:68])
	for _, amp := range []float64{0.05, 0.1, 0.17} {
		to := append([]face.Point(nil), pts...)
		maxMove := 0.0
		for i := range 68 {
			dx, dy := pts[i].X-c.X, pts[i].Y-c.Y
			r := math.Hypot(dx, dy) / eye
			k := amp * eye * math.Exp(-r*r)
			mx, my := -dy/eye*k+dx/eye*k, dx/eye*k+dy/eye*k*0.5
			to[i].X += mx
			to[i].Y += my
			maxMove = math.Max(maxMove, math.Hypot(mx, my))
		}
		if f := m.Folded(to); f != 0 {
			t.Errorf("swirl %.2f (max move %.1f px): %d triangles folded", amp, maxMove, f)
		}
	}
	to := append([]face.Point(nil), pts...)
	to[62], to[66] = to[66], to[62] // upper and lower inner lip swap
	if f := m.Folded(to); f == 0 {
		t.Error("swapping the inner lips folded nothing")
	}
	if got := m.Folded(pts[:10]); got != len(m.Triangles()) {
		t.Errorf("wrong length: Folded = %d, want all %d", got, len(m.Triangles()))
	}
}

func TestWarpBadInput(t *testing.T) {
	img, pts := astronaut(t)
	m, err := NewMesh(pts)
	if err != nil {
		t.Fatal(err)
	}
	dst := clone(img)
	bad := append([]face.Point(nil), pts...)
	bad[3].X = math.Inf(1)
	for name, err := range map[string]error{
		"nil dst":    m.Warp(nil, img, pts, pts),
		"nil src":    m.Warp(dst, nil, pts, pts),
		"short to":   m.Warp(dst, img, pts, pts[:5]),
		"infinite":   m.Warp(dst, img, pts, bad),
		"empty src":  m.Warp(dst, image.NewRGBA(image.Rectangle{}), pts, pts),
		"functional": func() error { _, err := Warp(nil, pts, pts); return err }(),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "warp: ") {
			t.Errorf("%s: error %v, want warp: …", name, err)
		}
	}
	if d := diffCount(dst, img); d != 0 {
		t.Errorf("failed warps changed %d pixels", d)
	}
}

// A mesh reaching past the image edge and an image whose bounds do not
// start at the origin: points are relative to Bounds().Min, and nothing
// outside the destination is touched.
func TestWarpOffsetAndClipped(t *testing.T) {
	img, _ := astronaut(t)
	sub := img.SubImage(image.Rect(150, 60, 300, 200)).(*image.RGBA)
	lm := detecttest.RealFaces(t, "astronaut")[0].Landmarks
	var from []face.Point
	for _, p := range lm {
		from = append(from, face.Point{X: p.X - 150, Y: p.Y - 60})
	}
	from = append(from, Ring(from, 0, 40, 16)...) // reaches past the 150×140 crop
	to := jawDrop(from, 6)
	out, err := Warp(sub, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if out.Rect != image.Rect(0, 0, 150, 140) {
		t.Fatalf("bounds %v", out.Rect)
	}
	// The chin (dlib point 8, integer in dlib's file) moved down 6 px, and
	// a mesh vertex maps exactly onto its source.
	chin := image.Pt(int(lm[8].X), int(lm[8].Y))
	want := img.RGBAAt(chin.X, chin.Y)
	if got := out.RGBAAt(chin.X-150, chin.Y+6-60); absDiff(got, want) > 0 {
		t.Errorf("at the moved chin: %v, want %v (the photo's chin)", got, want)
	}
	// Same warp on the whole photo agrees inside the crop.
	whole := make([]face.Point, len(to))
	wfrom := make([]face.Point, len(from))
	for i := range to {
		whole[i] = face.Point{X: to[i].X + 150, Y: to[i].Y + 60}
		wfrom[i] = face.Point{X: from[i].X + 150, Y: from[i].Y + 60}
	}
	ref, err := Warp(img, wfrom, whole)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffCount(out, ref.SubImage(sub.Rect).(*image.RGBA)); d > 0 {
		// Only the clamping at the crop's edge may differ.
		inner := diffCount(out.SubImage(image.Rect(2, 2, 148, 138)).(*image.RGBA),
			ref.SubImage(image.Rect(152, 62, 298, 198)).(*image.RGBA))
		if inner != 0 {
			t.Errorf("crop and whole photo differ in %d inner pixels", inner)
		}
	}
}

func absDiff(a, b color.RGBA) int {
	d := func(x, y uint8) int { return int(math.Abs(float64(x) - float64(y))) }
	return max(d(a.R, b.R), d(a.G, b.G), d(a.B, b.B))
}

func TestRing(t *testing.T) {
	_, pts := astronaut(t)
	lm := pts[:68]
	for _, angle := range []float64{0, 0.4, -1.2} {
		ring := Ring(lm, angle, 25, 24)
		if len(ring) != 24 {
			t.Fatalf("%d anchors", len(ring))
		}
		for _, p := range lm {
			if !face.InPolygon(ring, p.X, p.Y) {
				t.Fatalf("angle %.1f: landmark %v outside the ring", angle, p)
			}
			// The margin: every landmark at least ~margin from the ring.
			for i := range ring {
				a, b := ring[i], ring[(i+1)%len(ring)]
				dist := math.Abs(orient(a, b, p)) / math.Hypot(b.X-a.X, b.Y-a.Y)
				if dist < 25*0.8 {
					t.Errorf("angle %.1f: landmark %v only %.1f px from the ring", angle, p, dist)
				}
			}
		}
	}
	if Ring(nil, 0, 10, 8) != nil || Ring(pts, 0, 10, 2) != nil {
		t.Error("Ring of nothing or of 2 anchors should be nil")
	}
}

// BenchmarkMeshWarp is one face-region warp of the 512×512 photo: the 68
// landmarks with the jaw dropped by 10 px, anchors half an eye distance out.
func BenchmarkMeshWarp(b *testing.B) {
	img, pts := astronaut(b)
	m, err := NewMesh(pts)
	if err != nil {
		b.Fatal(err)
	}
	to := jawDrop(pts, 10)
	dst := clone(img)
	start := cpuTime()
	b.ResetTimer()
	for range b.N {
		if err := m.Warp(dst, img, pts, to); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	r := m.Bounds(to)
	b.ReportMetric(float64(r.Dx()*r.Dy()), "px/op")
	// CPU time over all threads is steadier than wall time on a shared
	// machine, and shows what the row parallelism costs in total.
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkTriangulate(b *testing.B) {
	_, pts := astronaut(b)
	for range b.N {
		if _, err := Triangulate(pts); err != nil {
			b.Fatal(err)
		}
	}
}

// hasEdge reports whether some triangle has the side a–b.
func hasEdge(tris []Triangle, a, b int) bool {
	for _, t := range tris {
		for k := 0; k < 3; k++ {
			p, q := t[k], t[(k+1)%3]
			if p == a && q == b || p == b && q == a {
				return true
			}
		}
	}
	return false
}

// Constrained edges end up as triangle sides, no side crosses them, and
// the result still tiles the hull with positive triangles.
func TestTriangulateConstrained(t *testing.T) {
	_, pts := astronaut(t)
	plain, err := Triangulate(pts)
	if err != nil {
		t.Fatal(err)
	}
	// Corner to corner across the mouth and the eyes, and jaw to jaw
	// just under the eyes: Delaunay has none of them, all cross several
	// of its edges.
	edges := [][2]int{{48, 54}, {36, 45}, {0, 16}}
	for _, e := range edges {
		if hasEdge(plain, e[0], e[1]) {
			t.Fatalf("edge %v already in the Delaunay triangulation: pick another", e)
		}
	}
	tris, err := TriangulateConstrained(pts, edges)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, tr := range tris {
		a := area(pts, tr)
		if !(a > 0) {
			t.Errorf("triangle %v has area %g", tr, a)
		}
		sum += a
		for k := 0; k < 3; k++ {
			p, q := tr[k], tr[(k+1)%3]
			for _, e := range edges {
				if p != e[0] && p != e[1] && q != e[0] && q != e[1] && crosses(pts[e[0]], pts[e[1]], pts[p], pts[q]) {
					t.Errorf("side %d–%d crosses the constrained edge %v", p, q, e)
				}
			}
		}
	}
	for _, e := range edges {
		if !hasEdge(tris, e[0], e[1]) {
			t.Errorf("constrained edge %v missing", e)
		}
	}
	if h := hullArea(pts); math.Abs(sum-h) > 1e-9*h {
		t.Errorf("triangles cover %g, the hull is %g", sum, h)
	}
	if len(tris) != len(plain) {
		t.Errorf("%d triangles, Delaunay had %d: flips keep the count", len(tris), len(plain))
	}
	again, _ := TriangulateConstrained(pts, edges)
	for i := range tris {
		if tris[i] != again[i] {
			t.Fatalf("triangle %d: %v, then %v: the same input must give the same mesh", i, tris[i], again[i])
		}
	}

	square := []face.Point{{X: 0, Y: 0}, {X: 4, Y: 0}, {X: 4, Y: 4}, {X: 0, Y: 4}, {X: 2, Y: 2}}
	for _, c := range []struct {
		edge [2]int
		want string
	}{
		{[2]int{0, 2}, "passes through point 4"},
		{[2]int{0, 9}, "not two distinct points"},
		{[2]int{3, 3}, "not two distinct points"},
	} {
		_, err := TriangulateConstrained(square, [][2]int{c.edge})
		if err == nil || !strings.HasPrefix(err.Error(), "warp: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("edge %v: error %v, want …%s", c.edge, err, c.want)
		}
	}
	// Brow to chin crosses the mouth's corner-to-corner edge.
	if _, err := TriangulateConstrained(pts, [][2]int{{48, 54}, {19, 8}}); err == nil || !strings.Contains(err.Error(), "cross") {
		t.Errorf("crossing constraints: error %v", err)
	}
}

// Points flung absurdly far are finite, so they are accepted: the warp
// must neither panic nor write outside the image.
func TestWarpWildPoints(t *testing.T) {
	img, pts := astronaut(t)
	to := append([]face.Point(nil), pts...)
	to[30] = face.Point{X: 1e15, Y: -1e15}
	to[8] = face.Point{X: -1e300, Y: 1e300}
	out, err := Warp(img, pts, to)
	if err != nil {
		t.Fatal(err)
	}
	if out.Rect != img.Rect {
		t.Errorf("bounds %v", out.Rect)
	}
}

// Untangle removes folds by small local changes, leaves the rest of the
// points and the anchors alone, and reports what it cannot fix.
func TestUntangle(t *testing.T) {
	_, pts := astronaut(t)
	m, err := NewMesh(pts)
	if err != nil {
		t.Fatal(err)
	}
	to := jawDrop(pts, 8)
	// Push the left brow end through its neighbours and the nose tip
	// down past the upper lip: two separate tangles.
	to[17].Y += 12
	to[17].X += 6
	to[33].Y += 13
	before := m.Folded(to)
	if before == 0 {
		t.Fatal("the test's tangles folded nothing")
	}
	fixed := append([]face.Point(nil), to...)
	if left := m.Untangle(pts, fixed, 68); left != 0 {
		t.Fatalf("%d of %d folds left", left, before)
	}
	moved, far := 0, 0.0
	for i := range to {
		d := math.Hypot(fixed[i].X-to[i].X, fixed[i].Y-to[i].Y)
		if d > 1e-9 {
			moved++
			if i >= 68 {
				t.Errorf("anchor %d moved", i)
			}
		}
		far = math.Max(far, d)
	}
	if moved > 15 {
		t.Errorf("%d points moved to fix two local tangles", moved)
	}
	t.Logf("%d folds fixed by moving %d points, at most %.1f px", before, moved, far)
	// Unfixable: nothing may move.
	bad := append([]face.Point(nil), to...)
	if left := m.Untangle(pts, bad, 0); left != before {
		t.Errorf("with every point pinned, %d folds left of %d", left, before)
	}
	if m.Untangle(pts, pts[:5], 5) == 0 {
		t.Error("wrong length reported fixed")
	}
}
