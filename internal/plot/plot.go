// Package plot draws simple line charts into images: training loss curves
// with axes, ticks, a legend and an optional logarithmic y axis. It needs no
// fonts or graphics libraries; text comes from a built-in bitmap font.
package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"
)

// Series is one line of a chart through the points (X[i], Y[i]). Points
// with a non-finite coordinate (or y ≤ 0 on a log axis) are left out.
type Series struct {
	Name  string
	Color color.RGBA
	X, Y  []float64
}

// Options shape a chart. Zero values get defaults.
type Options struct {
	Width, Height int // pixels; default 800×480
	LogY          bool
	Title         string
	XLabel        string
}

// Colours that read well on white, for callers that need a palette.
var (
	Blue   = color.RGBA{31, 119, 180, 255}
	Orange = color.RGBA{255, 127, 14, 255}
	Green  = color.RGBA{44, 160, 44, 255}
	Red    = color.RGBA{214, 39, 40, 255}
)

var (
	white = color.RGBA{255, 255, 255, 255}
	black = color.RGBA{0, 0, 0, 255}
	grid  = color.RGBA{225, 225, 225, 255}
	gray  = color.RGBA{90, 90, 90, 255}
)

const (
	marginL = 72
	marginR = 16
	marginT = 34
	marginB = 42
)

// Lines draws the series as a line chart and returns the image.
func Lines(series []Series, o Options) *image.RGBA {
	if o.Width <= 0 {
		o.Width = 800
	}
	if o.Height <= 0 {
		o.Height = 480
	}
	o.Width, o.Height = max(o.Width, marginL+marginR+40), max(o.Height, marginT+marginB+40)
	img := image.NewRGBA(image.Rect(0, 0, o.Width, o.Height))
	draw.Draw(img, img.Rect, image.NewUniform(white), image.Point{}, draw.Src)
	area := image.Rect(marginL, marginT, o.Width-marginR, o.Height-marginB)

	fy := func(y float64) float64 { return y }
	if o.LogY {
		fy = math.Log10
	}
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for i := range min(len(s.X), len(s.Y)) {
			x, y := s.X[i], fy(s.Y[i])
			if usable(x) && usable(y) {
				x0, x1, y0, y1 = math.Min(x0, x), math.Max(x1, x), math.Min(y0, y), math.Max(y1, y)
			}
		}
	}
	if o.Title != "" {
		Text(img, (o.Width-TextWidth(o.Title, 2))/2, 8, o.Title, black, 2)
	}
	if math.IsInf(x0, 1) {
		drawFrame(img, area)
		msg := "NO DATA"
		Text(img, area.Min.X+(area.Dx()-TextWidth(msg, 2))/2, area.Min.Y+area.Dy()/2, msg, gray, 2)
		return img
	}
	if x1 == x0 {
		x0, x1 = x0-1, x1+1
	}
	if y1 == y0 {
		d := math.Max(math.Abs(y0)*0.1, 0.1)
		y0, y1 = y0-d, y1+d
	}
	pad := (y1 - y0) * 0.05
	y0, y1 = y0-pad, y1+pad

	px := func(x float64) float64 {
		return float64(area.Min.X) + (x-x0)/(x1-x0)*float64(area.Dx()-1)
	}
	py := func(y float64) float64 {
		return float64(area.Max.Y-1) - (y-y0)/(y1-y0)*float64(area.Dy()-1)
	}

	// Grid and tick labels first, so the lines draw over them.
	for _, t := range linearTicks(x0, x1, 7) {
		x := int(math.Round(px(t)))
		vline(img, x, area.Min.Y, area.Max.Y, grid)
		l := formatTick(t)
		Text(img, x-TextWidth(l, 1)/2, area.Max.Y+6, l, black, 1)
	}
	yt := linearTicks(y0, y1, 6)
	if o.LogY {
		yt = logTicks(y0, y1)
	}
	for _, t := range yt {
		y := int(math.Round(py(fy(t))))
		hline(img, area.Min.X, area.Max.X, y, grid)
		l := formatTick(t)
		Text(img, area.Min.X-6-TextWidth(l, 1), y-glyphH/2, l, black, 1)
	}
	drawFrame(img, area)
	if o.XLabel != "" {
		Text(img, area.Min.X+(area.Dx()-TextWidth(o.XLabel, 1))/2, o.Height-14, o.XLabel, black, 1)
	}
	if o.LogY {
		Text(img, 4, marginT-12, "LOG", gray, 1)
	}

	for _, s := range series {
		drawSeries(img, area, s, fy, px, py)
	}

	// Legend, top right inside the plot.
	lx, ly := area.Max.X-8, area.Min.Y+8
	for i := len(series) - 1; i >= 0; i-- {
		s := series[i]
		w := TextWidth(s.Name, 1)
		lx -= w
		Text(img, lx, ly, s.Name, black, 1)
		lx -= 16
		draw.Draw(img, image.Rect(lx, ly+2, lx+12, ly+5), image.NewUniform(s.Color), image.Point{}, draw.Src)
		lx -= 14
	}
	return img
}

func usable(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// drawSeries draws a polyline through the series' points. Points that fall
// in the same pixel column are averaged first: a loss recorded at 10 000
// steps then reads as a curve, not as a band of noise.
func drawSeries(img *image.RGBA, area image.Rectangle, s Series, fy func(float64) float64,
	px, py func(float64) float64) {
	type acc struct{ x, y, n float64 }
	cols := map[int]*acc{}
	var order []int
	for i := range min(len(s.X), len(s.Y)) {
		x, y := s.X[i], fy(s.Y[i])
		if !usable(x) || !usable(y) {
			continue
		}
		c := int(math.Round(px(x)))
		a, ok := cols[c]
		if !ok {
			a = &acc{}
			cols[c] = a
			order = append(order, c)
		}
		a.x, a.y, a.n = a.x+x, a.y+y, a.n+1
	}
	var prevX, prevY float64
	for k, c := range order {
		a := cols[c]
		x, y := px(a.x/a.n), py(a.y/a.n)
		if k == 0 {
			dot(img, area, x, y, s.Color)
		} else {
			line(img, area, prevX, prevY, x, y, s.Color)
		}
		prevX, prevY = x, y
	}
}

// line draws a two-pixel-wide segment, clipped to area.
func line(img *image.RGBA, area image.Rectangle, x0, y0, x1, y1 float64, c color.RGBA) {
	n := int(math.Ceil(math.Max(math.Abs(x1-x0), math.Abs(y1-y0)))) + 1
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		dot(img, area, x0+(x1-x0)*t, y0+(y1-y0)*t, c)
	}
}

func dot(img *image.RGBA, area image.Rectangle, x, y float64, c color.RGBA) {
	ix, iy := int(math.Floor(x)), int(math.Floor(y))
	for dy := 0; dy < 2; dy++ {
		for dx := 0; dx < 2; dx++ {
			if p := (image.Point{X: ix + dx, Y: iy + dy}); p.In(area) {
				img.SetRGBA(p.X, p.Y, c)
			}
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x < x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y < y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

func drawFrame(img *image.RGBA, r image.Rectangle) {
	hline(img, r.Min.X, r.Max.X, r.Min.Y, black)
	hline(img, r.Min.X, r.Max.X, r.Max.Y-1, black)
	vline(img, r.Min.X, r.Min.Y, r.Max.Y, black)
	vline(img, r.Max.X-1, r.Min.Y, r.Max.Y, black)
}

// linearTicks are round values (1, 2 or 5 times a power of ten apart) in
// [lo, hi], about want of them.
func linearTicks(lo, hi float64, want int) []float64 {
	span := hi - lo
	if !(span > 0) || want < 1 {
		return nil
	}
	raw := span / float64(want)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := p
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out
}

// logTicks are 1·10^k, and 2·10^k and 5·10^k when the range spans few
// decades (then all of 1…9·10^k when it spans less than one), between the
// log10 bounds lo and hi.
func logTicks(lo, hi float64) []float64 {
	decades := hi - lo
	mults := []float64{1}
	switch {
	case decades < 1:
		mults = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	case decades < 3:
		mults = []float64{1, 2, 5}
	}
	var out []float64
	for k := math.Floor(lo); k <= math.Ceil(hi); k++ {
		for _, m := range mults {
			v := m * math.Pow(10, k)
			if l := math.Log10(v); l >= lo && l <= hi {
				out = append(out, v)
			}
		}
	}
	return out
}

// formatTick writes a tick value briefly: integers as they are (with k
// for thousands of round values), the rest with three significant digits.
func formatTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e4 && math.Mod(v, 1000) == 0:
		return strconv.FormatFloat(v/1000, 'f', -1, 64) + "K"
	case v == math.Trunc(v) && math.Abs(v) < 1e6:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// L1History is a training run's loss.png when L1 is the loss that tells
// how it goes: L1 per step on a log scale, titled with the last value
// ("L1 AT STEP n: v"), or with untitled before the first step.
func L1History(untitled string, steps, l1 []float64) *image.RGBA {
	title := untitled
	if n := min(len(steps), len(l1)); n > 0 {
		title = fmt.Sprintf("L1 AT STEP %d: %.4f", int(steps[n-1]), l1[n-1])
	}
	return Lines([]Series{{Name: "L1", Color: Blue, X: steps, Y: l1}},
		Options{Width: 800, Height: 480, LogY: true, Title: title, XLabel: "STEP"})
}
