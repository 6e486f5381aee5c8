package vp8

import "context"

// A Band is up to 16 rows of the decoded frame, final (reconstructed and loop-filtered): luma
// rows Y0..Y0+Rows-1 (Width samples each, stride YStride) and chroma rows
// Y0/2..Y0/2+(Rows+1)/2-1 ((Width+1)/2 samples each, stride CStride). Its slices belong to the
// decoder and are valid only during the call to emit.
type Band struct {
	Y0, Rows int
	Y        []byte
	YStride  int
	Cb, Cr   []byte
	CStride  int
}

// Decode decodes the VP8 key frame frame (the payload of a WebP "VP8 " chunk) and calls emit
// with each band of 16 rows, top to bottom, as soon as the band is final; the last band is cut
// to the frame's height. It keeps two macroblock rows and per-column state, never the frame:
// see the package comment. Decode checks ctx before each macroblock row, and before the last
// band, and returns ctx.Err() if it is done; an error from emit ends Decode with that error. The frame's errors are those of
// x/image/vp8: a FormatError, an UnsupportedError, or one wrapping io.ErrUnexpectedEOF.
func Decode(ctx context.Context, frame []byte, emit func(Band) error) error {
	p, fi, err := newParser(frame)
	if err != nil {
		return err
	}
	if fi.mbh == 0 {
		return nil // a frame 0 pixels high has no rows to hand out
	}
	d := newDecoder(fi)
	var mb macroblock
	for mby := range fi.mbh {
		if err := ctx.Err(); err != nil {
			return err
		}
		for mbx := range fi.mbw {
			if err := p.parseMB(mbx, mby, &mb); err != nil {
				return err
			}
			d.reconstruct(mbx, mby, &mb)
		}
		d.finishRow(mby)
		if mby > 0 {
			if err := emit(d.band(mby - 1)); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return emit(d.band(fi.mbh - 1))
}

// A decoder holds what reconstruction keeps between macroblocks: two macroblock rows of pixels
// (row r in slot r%2: while row r is reconstructed and filtered, slot (r-1)%2 holds row r-1,
// whose last rows the filtering of row r's top edges changes before it is handed out), the
// unfiltered bottom row of pixels of the macroblock row above, which prediction reads, and the
// loop filter's parameters.
type decoder struct {
	fi frameInfo
	ws workspace

	// y, cb and cr hold the two slots of 16 luma and 8 chroma rows each, of strides ys and cs
	// (16 and 8 pixels per macroblock: bands carry the padding of the last macroblock column).
	y, cb, cr []byte
	ys, cs    int

	// aboveY, aboveCb and aboveCr are the bottom pixel rows of the macroblock row above the
	// one being reconstructed, before loop filtering; 127s above the frame. aboveY has 4 more
	// bytes, the above-right pixels of the last macroblock column (section 12.3).
	aboveY, aboveCb, aboveCr []byte

	filter []mbFilterInfo // of each macroblock of the row being reconstructed
	limits [64]edgeLimits // by loop_filter_level
}

func newDecoder(fi frameInfo) *decoder {
	ys, cs := 16*fi.mbw, 8*fi.mbw
	d := &decoder{
		fi:      fi,
		y:       make([]byte, 2*16*ys),
		cb:      make([]byte, 2*8*cs),
		cr:      make([]byte, 2*8*cs),
		ys:      ys,
		cs:      cs,
		aboveY:  make([]byte, ys+4),
		aboveCb: make([]byte, cs),
		aboveCr: make([]byte, cs),
		filter:  make([]mbFilterInfo, fi.mbw),
	}
	for _, a := range [][]byte{d.aboveY, d.aboveCb, d.aboveCr} {
		for i := range a {
			a[i] = 127
		}
	}
	for level := 1; level < len(d.limits); level++ {
		d.limits[level] = newEdgeLimits(level, fi.sharpness)
	}
	return d
}

// reconstruct predicts and adds the residue of macroblock mb at (mbx, mby), stores its pixels
// in the row's slot and its unfiltered bottom row for the row below, and notes how the loop
// filter is to treat it.
func (d *decoder) reconstruct(mbx, mby int, mb *macroblock) {
	ws := &d.ws
	ws.loadEdges(mbx, mby, d.aboveY, d.aboveCb, d.aboveCr)
	ws.reconstruct(mb, mby > 0, mbx > 0)

	yo := (mby&1)*16*d.ys + 16*mbx
	for r := range 16 {
		copy(d.y[yo+r*d.ys:yo+r*d.ys+16], ws[wsY+r*wsStride:wsY+r*wsStride+16])
	}
	co := (mby&1)*8*d.cs + 8*mbx
	for r := range 8 {
		copy(d.cb[co+r*d.cs:co+r*d.cs+8], ws[wsCb+r*wsStride:wsCb+r*wsStride+8])
		copy(d.cr[co+r*d.cs:co+r*d.cs+8], ws[wsCr+r*wsStride:wsCr+r*wsStride+8])
	}
	copy(d.aboveY[16*mbx:16*mbx+16], ws[wsY+15*wsStride:])
	copy(d.aboveCb[8*mbx:8*mbx+8], ws[wsCb+7*wsStride:])
	copy(d.aboveCr[8*mbx:8*mbx+8], ws[wsCr+7*wsStride:])

	f := &d.filter[mbx]
	f.level = 0
	if d.fi.filter != filterNone {
		f.level = mb.filterLevel
	}
	f.inner = mb.ymode == modeB || !mb.skip
}

// finishRow completes macroblock row mby once all its macroblocks are reconstructed: it sets
// the above-right pixels of the last column for the row below, and loop-filters the row, which
// makes the row above final.
func (d *decoder) finishRow(mby int) {
	if d.ys == 0 {
		return // a frame 0 pixels wide: its rows are empty
	}
	last := d.aboveY[d.ys-1]
	for i := d.ys; i < d.ys+4; i++ {
		d.aboveY[i] = last
	}
	if d.fi.filter == filterNone {
		return
	}
	cur, prev := mby&1, (mby+1)&1
	filterRow(d.fi.filter, &d.limits, d.filter, mby,
		d.y, cur*16*d.ys, prev*16*d.ys+15*d.ys, d.ys,
		d.cb, d.cr, cur*8*d.cs, prev*8*d.cs+7*d.cs, d.cs)
}

// band returns macroblock row mby, which must be final, as a Band cut to the frame's height.
func (d *decoder) band(mby int) Band {
	rows := min(16, d.fi.height-16*mby)
	slot := mby & 1
	return Band{
		Y0:      16 * mby,
		Rows:    rows,
		Y:       d.y[slot*16*d.ys : slot*16*d.ys+rows*d.ys],
		YStride: d.ys,
		Cb:      d.cb[slot*8*d.cs : slot*8*d.cs+(rows+1)/2*d.cs],
		Cr:      d.cr[slot*8*d.cs : slot*8*d.cs+(rows+1)/2*d.cs],
		CStride: d.cs,
	}
}
