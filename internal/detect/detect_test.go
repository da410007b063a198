package detect

import (
	"testing"
	"image/png"
	"os"
)

func TestGroupExplore(t *testing.T) {
	o := DefaultOptions()
	o.MinScore = 0
	d, _ := New(o)
	g, boxes := composite(t, 1200, 600, groupParts)
	f, _ := os.Create("/tmp/det_group.png"); png.Encode(f, g); f.Close()
	for _, b := range boxes { t.Logf("ref %+v w=%.1f", b, b.Width()) }
	for _, f := range d.Detect(g) { t.Logf("det %+v w=%.1f score=%.1f ang=%.1f", f.Box, f.Box.Width(), f.Score, f.Angle*57.3) }
}
