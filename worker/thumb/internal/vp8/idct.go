package vp8

// The inverse transforms of section 14 and the summation of prediction and residue (section
// 14.5), done in place on the reconstruction workspace (predict.go).
//
// The arithmetic is the RFC's with two differences of form, which x/image/vp8 (our reference)
// has too and which matter only for coefficients no encoder writes: the inverse DCT keeps its
// intermediate values in int32 where the RFC stores them in 16 bits, and it multiplies by
// sqrt(2)*cos(pi/8) as (x*85627)>>16 in int32 where the RFC computes x + (x*20091)>>16, the same
// number unless the product overflows. In a hostile stream the dequantized coefficients are any
// int16 values and these differences show; we keep x/image's arithmetic so that every stream
// decodes to its samples.

const (
	cospi8sqrt2 = 85627 // 65536 * sqrt(2) * cos(pi/8): 65536 + the RFC's cospi8sqrt2minus1 (20091)
	sinpi8sqrt2 = 35468 // 65536 * sqrt(2) * sin(pi/8)
)

// inverseWHT inverts the Walsh-Hadamard transform of a macroblock's Y2 block (section 14.3) and
// writes the result, the DC coefficient of each luma block, into coefficient 0 of the 16 luma
// blocks, truncated to 16 bits as the RFC's short arrays do.
func inverseWHT(c *[25][16]int16) {
	in := &c[blockY2]
	var m [16]int32
	for i := range 4 { // vertical pass, one column at a time
		a1 := int32(in[i]) + int32(in[12+i])
		b1 := int32(in[4+i]) + int32(in[8+i])
		c1 := int32(in[4+i]) - int32(in[8+i])
		d1 := int32(in[i]) - int32(in[12+i])
		m[i] = a1 + b1
		m[4+i] = c1 + d1
		m[8+i] = a1 - b1
		m[12+i] = d1 - c1
	}
	for i := range 4 { // horizontal pass, one row at a time: row i gives blocks 4i..4i+3
		r := m[4*i : 4*i+4 : 4*i+4]
		a1 := r[0] + r[3]
		b1 := r[1] + r[2]
		c1 := r[1] - r[2]
		d1 := r[0] - r[3]
		c[4*i][0] = int16((a1 + b1 + 3) >> 3)
		c[4*i+1][0] = int16((c1 + d1 + 3) >> 3)
		c[4*i+2][0] = int16((a1 - b1 + 3) >> 3)
		c[4*i+3][0] = int16((d1 - c1 + 3) >> 3)
	}
}

// addResidue inverts the DCT of one 4x4 block (section 14.4) and adds the residue to the
// prediction in dst, a 4x4 block of the workspace (row stride wsStride), clamping each sum to
// 0..255. A block with only a DC coefficient, the common case, takes a short cut with the same
// result; a block of zeros leaves the prediction alone.
func addResidue(blk *[16]int16, dst []byte) {
	if blk[1]|blk[2]|blk[3]|blk[4]|blk[5]|blk[6]|blk[7]|blk[8]|
		blk[9]|blk[10]|blk[11]|blk[12]|blk[13]|blk[14]|blk[15] == 0 {
		if blk[0] != 0 {
			addDC((int32(blk[0])+4)>>3, dst)
		}
		return
	}
	var m [16]int32
	for i := range 4 { // vertical pass over column i: m[4*i+k] is row k of column i
		i0, i4, i8, i12 := int32(blk[i]), int32(blk[4+i]), int32(blk[8+i]), int32(blk[12+i])
		a1 := i0 + i8
		b1 := i0 - i8
		c1 := (i4*sinpi8sqrt2)>>16 - (i12*cospi8sqrt2)>>16
		d1 := (i4*cospi8sqrt2)>>16 + (i12*sinpi8sqrt2)>>16
		m[4*i] = a1 + d1
		m[4*i+1] = b1 + c1
		m[4*i+2] = b1 - c1
		m[4*i+3] = a1 - d1
	}
	d := (*[3*wsStride + 4]byte)(dst)
	for k := range 4 { // horizontal pass over row k
		i0, i1, i2, i3 := m[k]+4, m[4+k], m[8+k], m[12+k]
		a1 := i0 + i2
		b1 := i0 - i2
		c1 := (i1*sinpi8sqrt2)>>16 - (i3*cospi8sqrt2)>>16
		d1 := (i1*cospi8sqrt2)>>16 + (i3*sinpi8sqrt2)>>16
		row := d[k*wsStride : k*wsStride+4 : k*wsStride+4]
		row[0] = clamp255(int32(row[0]) + (a1+d1)>>3)
		row[1] = clamp255(int32(row[1]) + (b1+c1)>>3)
		row[2] = clamp255(int32(row[2]) + (b1-c1)>>3)
		row[3] = clamp255(int32(row[3]) + (a1-d1)>>3)
	}
}

// addDC adds v to each pixel of the 4x4 block dst (row stride wsStride), clamping to 0..255.
func addDC(v int32, dst []byte) {
	d := (*[3*wsStride + 4]byte)(dst)
	for k := range 4 {
		row := d[k*wsStride : k*wsStride+4 : k*wsStride+4]
		row[0] = clamp255(int32(row[0]) + v)
		row[1] = clamp255(int32(row[1]) + v)
		row[2] = clamp255(int32(row[2]) + v)
		row[3] = clamp255(int32(row[3]) + v)
	}
}

// clamp255 saturates v to a pixel value.
func clamp255[T int | int32](v T) byte {
	return byte(min(max(v, 0), 255))
}
