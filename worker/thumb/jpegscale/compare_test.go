package jpegscale

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
)

// diffFromStdlib decodes data at 1/scale and compares it with image/jpeg's full-size decode
// averaged over the same blocks. It returns the mean absolute difference over all samples of all
// planes (0..255), or an error when the sizes or kinds of image differ.
func diffFromStdlib(data []byte, scale int) (float64, error) {
	ref, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("image/jpeg: %v", err)
	}
	got, err := Decode(data, scale)
	if err != nil {
		return 0, err
	}
	return diffImages(ref, got, scale)
}

// plane is one channel of an image: w x h samples.
type plane struct {
	pix    []byte
	stride int
	w, h   int
}

// planes returns the planes of a Gray or YCbCr image, the chroma ones at their own resolution.
func planes(img image.Image) ([]plane, error) {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		return []plane{{m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, b.Dx(), b.Dy()}}, nil
	case *image.YCbCr:
		hs, vs := 1, 1
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio422:
			hs = 2
		case image.YCbCrSubsampleRatio420:
			hs, vs = 2, 2
		case image.YCbCrSubsampleRatio440:
			vs = 2
		case image.YCbCrSubsampleRatio411:
			hs = 4
		case image.YCbCrSubsampleRatio410:
			hs, vs = 4, 2
		}
		cw, ch := (b.Dx()+hs-1)/hs, (b.Dy()+vs-1)/vs
		co := m.COffset(b.Min.X, b.Min.Y)
		return []plane{
			{m.Y[m.YOffset(b.Min.X, b.Min.Y):], m.YStride, b.Dx(), b.Dy()},
			{m.Cb[co:], m.CStride, cw, ch},
			{m.Cr[co:], m.CStride, cw, ch},
		}, nil
	}
	return nil, fmt.Errorf("unexpected %T", img)
}

// diffImages compares got, a decode of ref's file at 1/scale, with ref plane by plane: each
// sample of got against the mean of the scale x scale samples of ref it stands for. Samples at
// the right and bottom edges that stand for fewer samples of ref are left out: the encoder
// filled the rest of their blocks with samples of its choosing (libjpeg repeats the last ones),
// which the DC coefficient includes. It returns 0 when no sample is compared.
func diffImages(ref, got image.Image, scale int) (float64, error) {
	rb, gb := ref.Bounds(), got.Bounds()
	if w, h := (rb.Dx()+scale-1)/scale, (rb.Dy()+scale-1)/scale; gb.Dx() != w || gb.Dy() != h {
		return 0, fmt.Errorf("decoded %dx%d at 1/%d = %dx%d; want %dx%d", rb.Dx(), rb.Dy(), scale, gb.Dx(), gb.Dy(), w, h)
	}
	rp, err := planes(ref)
	if err != nil {
		return 0, err
	}
	gp, err := planes(got)
	if err != nil {
		return 0, err
	}
	if len(rp) != len(gp) {
		return 0, fmt.Errorf("decoded as %T; image/jpeg gives %T", got, ref)
	}
	r, _ := ref.(*image.YCbCr)
	if g, ok := got.(*image.YCbCr); ok && r != nil && r.SubsampleRatio != g.SubsampleRatio {
		return 0, fmt.Errorf("decoded with %v; image/jpeg gives %v", g.SubsampleRatio, r.SubsampleRatio)
	}
	var sum float64
	var n int
	for i, r := range rp {
		g := gp[i]
		if w, h := (r.w+scale-1)/scale, (r.h+scale-1)/scale; g.w != w || g.h != h {
			return 0, fmt.Errorf("plane %d is %dx%d; want %dx%d", i, g.w, g.h, w, h)
		}
		for y := range r.h / scale {
			for x := range r.w / scale {
				var s float64
				for yy := y * scale; yy < (y+1)*scale; yy++ {
					for xx := x * scale; xx < (x+1)*scale; xx++ {
						s += float64(r.pix[yy*r.stride+xx])
					}
				}
				sum += math.Abs(float64(g.pix[y*g.stride+x]) - s/float64(scale*scale))
				n++
			}
		}
	}
	return sum / float64(max(n, 1)), nil
}
