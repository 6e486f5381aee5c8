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
//
// A 4-component file is compared by its stored planes, as a 3-component one is (its Y, Cb, Cr
// rather than RGB): YCCK through a copy whose Adobe marker says CMYK, which image/jpeg then
// returns inverted but unconverted (the conversion itself is checked by TestYCCKIsConvertedAsTheStandardLibraryDoes),
// and the halved middle components of a 2x2, 1x1, 1x1, 2x2 file at their own resolution.
func diffFromStdlib(data []byte, scale int) (float64, error) {
	if halved, ok := cmykFrame(data); ok {
		raw := asAdobeCMYK(data)
		ref, err := jpeg.Decode(bytes.NewReader(raw))
		if err != nil {
			return 0, fmt.Errorf("image/jpeg: %v", err)
		}
		got, err := Decode(raw, scale)
		if err != nil {
			return 0, err
		}
		return diffCMYK(ref, got, scale, halved)
	}
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

// planes returns the planes of a Gray, YCbCr or CMYK image, the chroma ones at their own
// resolution, the CMYK ones taken apart.
func planes(img image.Image) ([]plane, error) {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.CMYK:
		w, h := b.Dx(), b.Dy()
		ps := make([]plane, 4)
		for i := range ps {
			ps[i] = plane{make([]byte, w*h), w, w, h}
			for y := range h {
				row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
				for x := range w {
					ps[i].pix[y*w+x] = row[4*x+i]
				}
			}
		}
		return ps, nil
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
		s, k := diffPlane(r, g, scale)
		sum += s
		n += k
	}
	return sum / float64(max(n, 1)), nil
}

// diffPlane sums the absolute differences of the samples of g against the means of the scale x
// scale samples of r they stand for, whole blocks only, and returns the sum and their number.
func diffPlane(r, g plane, scale int) (sum float64, n int) {
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
	return sum, n
}

// cmykFrame reports whether data has a 4-component frame, and whether its middle two components
// are halved (sampling 2x2, 1x1, 1x1, 2x2).
func cmykFrame(data []byte) (halved, ok bool) {
	for i := 2; i+9 < len(data) && data[i] == 0xff; i += 2 + (int(data[i+2])<<8 | int(data[i+3])) {
		if m := data[i+1]; m == 0xc0 || m == 0xc1 || m == 0xc2 {
			seg := data[i+4:]
			return len(seg) > 8 && seg[7] == 0x22, seg[5] == 4
		}
	}
	return false, false
}

// asAdobeCMYK returns a copy of data whose Adobe APP14 markers say CMYK (transform 0): the same
// coefficients, which decoders then return as the stored planes, inverted.
func asAdobeCMYK(data []byte) []byte {
	out := bytes.Clone(data)
	for i := 2; i+16 < len(out) && out[i] == 0xff && out[i+1] != 0xda; i += 2 + (int(out[i+2])<<8 | int(out[i+3])) {
		if out[i+1] == 0xee && string(out[i+4:i+9]) == "Adobe" {
			out[i+15] = 0
		}
	}
	return out
}

// diffCMYK is diffImages for the CMYK images of a 4-component file, whose middle two planes are
// compared at their own resolution when halved is set: image/jpeg repeats each of their samples
// over 2x2 pixels, so the samples at even coordinates are the plane itself.
func diffCMYK(ref, got image.Image, scale int, halved bool) (float64, error) {
	rp, err := planes(ref)
	if err != nil {
		return 0, err
	}
	gp, err := planes(got)
	if err != nil {
		return 0, err
	}
	if len(rp) != 4 || len(gp) != 4 {
		return 0, fmt.Errorf("decoded as %T; image/jpeg gives %T", got, ref)
	}
	var sum float64
	var n int
	for i := range 4 {
		r, g := rp[i], gp[i]
		if halved && (i == 1 || i == 2) {
			r, g = everyOther(r), everyOther(g)
		}
		if w, h := (r.w+scale-1)/scale, (r.h+scale-1)/scale; g.w != w || g.h != h {
			return 0, fmt.Errorf("plane %d is %dx%d; want %dx%d", i, g.w, g.h, w, h)
		}
		s, k := diffPlane(r, g, scale)
		sum += s
		n += k
	}
	return sum / float64(max(n, 1)), nil
}

// everyOther returns the samples of p at even coordinates.
func everyOther(p plane) plane {
	w, h := (p.w+1)/2, (p.h+1)/2
	q := plane{make([]byte, w*h), w, w, h}
	for y := range h {
		for x := range w {
			q.pix[y*w+x] = p.pix[2*y*p.stride+2*x]
		}
	}
	return q
}
