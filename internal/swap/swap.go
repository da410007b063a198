package swap

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"github.com/facesynth/facesynth/internal/plot"
	"github.com/facesynth/facesynth/internal/torch"
)

// Direction is which way a swap goes.
type Direction int

const (
	AToB Direction = iota // A's faces drawn by B's decoder
	BToA
)

func (d Direction) String() string {
	if d == BToA {
		return "B→A"
	}
	return "A→B"
}

// Size is the side of the faces the model takes and draws, in pixels.
func (m *Model) Size() int { return m.Arch.Size }

// Swap encodes aligned face crops (of any size; they are resized to the
// model's) and decodes them with the other identity's decoder: AToB turns
// faces of A into B's. It returns the swapped faces and the predicted
// masks (255: face), both Size()×Size(), one per crop.
func (m *Model) Swap(crops []image.Image, d Direction) ([]*image.RGBA, []*image.Gray, error) {
	to := B
	if d == BToA {
		to = A
	}
	return m.Render(crops, to)
}

// Render encodes crops and decodes them as side to: with the crops' own
// side it reconstructs them, with the other it swaps them.
func (m *Model) Render(crops []image.Image, to Side) ([]*image.RGBA, []*image.Gray, error) {
	if m == nil || m.params == nil {
		return nil, nil, fmt.Errorf("swap: no model")
	}
	size := m.Arch.Size
	n := size * size
	faces := make([]*image.RGBA, 0, len(crops))
	masks := make([]*image.Gray, 0, len(crops))
	const chunk = 16
	for i := 0; i < len(crops); i += chunk {
		j := min(i+chunk, len(crops))
		x := make([]float32, 0, (j-i)*3*n)
		for k, c := range crops[i:j] {
			if c == nil || c.Bounds().Empty() {
				return nil, nil, fmt.Errorf("swap: crop %d is empty", i+k)
			}
			x = append(x, planar(resizeRGB(c, size), n)...)
		}
		rgb, mask, err := m.generate(x, j-i, to)
		if err != nil {
			return nil, nil, err
		}
		for k := 0; k < j-i; k++ {
			faces = append(faces, toRGBA(rgb[k*3*n:(k+1)*3*n], size))
			masks = append(masks, toGray(mask[k*n:(k+1)*n], size))
		}
	}
	return faces, masks, nil
}

// generate runs count faces (planar floats in model layout) through the
// encoder and side to's decoder, without gradients.
func (m *Model) generate(x []float32, count int, to Side) (rgb, mask []float32, err error) {
	s := int64(m.Arch.Size)
	torch.WithScope(func(*torch.Scope) {
		torch.NoGrad(func() {
			r, mk := m.Forward(torch.FromFloat32(x, int64(count), 3, s, s), to)
			if rgb, err = r.Float32s(); err == nil {
				mask, err = mk.Float32s()
			}
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("swap: %w", err)
	}
	return rgb, mask, nil
}

func to8(v float32) uint8 { return uint8(min(max(v*255+0.5, 0), 255)) }

// toRGBA converts one planar face in [0, 1] to an image.
func toRGBA(p []float32, size int) *image.RGBA {
	n := size * size
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := 0; i < n; i++ {
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = to8(p[i]), to8(p[n+i]), to8(p[2*n+i]), 255
	}
	return img
}

func toGray(p []float32, size int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, size, size))
	for i, v := range p {
		img.Pix[i] = to8(v)
	}
	return img
}

// previewFaces is the number of faces per set a preview shows.
const previewFaces = 8

// Preview draws a grid of n faces of each set (spread over the set) in six
// rows: A, A→A, A→B, B, B→B, B→A. The generated faces are shown as a swap
// would use them: blended over the input crop with their predicted mask.
func (t *Trainer) Preview(n int) (*image.RGBA, error) {
	size := t.Model.Arch.Size
	px := size * size
	type row struct {
		label string
		faces [][]float32 // planar per face
	}
	var rows []row
	for _, s := range []Side{A, B} {
		set := t.Sets[s]
		k := min(n, set.Len())
		x := make([]float32, 0, k*3*px)
		src := row{label: s.String()}
		for i := 0; i < k; i++ {
			f := planar(set.RGB[i*set.Len()/k], px)
			x = append(x, f...)
			src.faces = append(src.faces, f)
		}
		rows = append(rows, src)
		for _, to := range []Side{s, s.other()} {
			rgb, mask, err := t.Model.generate(x, k, to)
			if err != nil {
				return nil, err
			}
			r := row{label: s.String() + ">" + to.String()}
			for i := 0; i < k; i++ {
				blend := make([]float32, 3*px)
				for c := 0; c < 3; c++ {
					for p := 0; p < px; p++ {
						a := mask[i*px+p]
						blend[c*px+p] = rgb[i*3*px+c*px+p]*a + src.faces[i][c*px+p]*(1-a)
					}
				}
				r.faces = append(r.faces, blend)
			}
			rows = append(rows, r)
		}
	}
	const gap, labelW = 2, 40
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r.faces))
	}
	img := image.NewRGBA(image.Rect(0, 0, labelW+cols*(size+gap), len(rows)*(size+gap)))
	draw.Draw(img, img.Rect, image.NewUniform(color.RGBA{40, 40, 40, 255}), image.Point{}, draw.Src)
	for ri, r := range rows {
		y := ri * (size + gap)
		plot.Text(img, 4, y+size/2-plot.TextHeight(1)/2, r.label, color.RGBA{255, 255, 255, 255}, 1)
		for ci, f := range r.faces {
			x := labelW + ci*(size+gap)
			draw.Draw(img, image.Rect(x, y, x+size, y+size), toRGBA(f, size), image.Point{}, draw.Src)
		}
	}
	return img, nil
}
