package face

import (
	"math"
	"sort"
)

func dist(a, b Point) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

// MouthOpening is the gap between the inner lips (points 62 and 66) in
// eye distances: about 0 closed, 0.3 for an open "ah".
func MouthOpening(p []Point) float64 { return dist(p[62], p[66]) / EyeDistance(p) }

// EyeOpening is the mean eye aspect ratio of both eyes (Soukupová and
// Čech 2016): lid gap over eye width, about 0.3 open, under 0.15 closed.
func EyeOpening(p []Point) float64 {
	ear := func(e []Point) float64 {
		return (dist(e[1], e[5]) + dist(e[2], e[4])) / (2 * dist(e[0], e[3]))
	}
	return (ear(p[36:42]) + ear(p[42:48])) / 2
}

// Calmest picks a face's neutral moment from a sequence of its landmarks
// (nil where the face was not seen): among the frames whose eyes are at
// least as open as usual (no blink, no squint), the one with the smallest
// mouth opening. It returns -1 when no frame has a face.
func Calmest(seq [][]Point) int {
	var ears []float64
	for _, p := range seq {
		if p != nil {
			ears = append(ears, EyeOpening(p))
		}
	}
	if len(ears) == 0 {
		return -1
	}
	sort.Float64s(ears)
	med := ears[len(ears)/2]
	best, bestOpen := -1, math.Inf(1)
	for i, p := range seq {
		if p == nil || EyeOpening(p) < med {
			continue
		}
		if o := MouthOpening(p); o < bestOpen {
			best, bestOpen = i, o
		}
	}
	return best
}

// Centroid is the mean of pts (the zero Point for none).
func Centroid(pts []Point) Point {
	var c Point
	if len(pts) == 0 {
		return c
	}
	for _, p := range pts {
		c.X += p.X
		c.Y += p.Y
	}
	n := float64(len(pts))
	return Point{X: c.X / n, Y: c.Y / n}
}
