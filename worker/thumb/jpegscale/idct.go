package jpegscale

import "math"

// unzig maps a zigzag index to its natural (row-major) position in the 8x8 block.
var unzig = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// kmaxFor[size] is the largest zigzag index of the top-left size x size coefficients.
var kmaxFor [9]int

// A reduced IDCT of size n uses the coefficients (u, v) < n of an 8x8 block: idctTab[n] lists
// their zigzag indexes (row-major over u, v) and holds the basis, see init.
type reducedIDCT struct {
	zz  []int       // zigzag index of coefficient (u, v) at v*n+u
	tab [64]float32 // tab[x*n+u]: weight of coefficient u in output sample x
}

var idcts [9]reducedIDCT

// Output sample x of a size n IDCT stands for the pixels g*x .. g*x+g-1 of the 8 (g = 8/n). With
// F(u) = C(u)/2 * sum_i f(i) cos((2i+1)u pi/16) (T.81 A.3.3), the mean of those pixels is
//
//	sum_u C(u)/2 F(u) cos((2x+1)u pi/(2n)) a(u),  a(u) = sin(g u pi/16) / (g sin(u pi/16))
//
// over all u; the reduced IDCT keeps u < n, which leaves out only detail finer than its pixels.
// a(0) = 1, so a flat block keeps its level.
func init() {
	for k, p := range unzig {
		u, v := int(p%8), int(p/8)
		for n := 1; n <= 8; n *= 2 {
			if u < n && v < n {
				kmaxFor[n] = max(kmaxFor[n], k)
			}
		}
	}
	var zigOf [64]int
	for k, p := range unzig {
		zigOf[p] = k
	}
	for n := 2; n <= 8; n *= 2 {
		t := &idcts[n]
		g := float64(8 / n)
		for v := range n {
			for u := range n {
				t.zz = append(t.zz, zigOf[v*8+u])
			}
		}
		for x := range n {
			for u := range n {
				c, a := 0.5, 1.0
				if u == 0 {
					c = 0.5 / math.Sqrt2
				} else {
					a = math.Sin(g*float64(u)*math.Pi/16) / (g * math.Sin(float64(u)*math.Pi/16))
				}
				t.tab[x*n+u] = float32(c * a * math.Cos(float64(2*x+1)*float64(u)*math.Pi/float64(2*n)))
			}
		}
	}
}

// dcPixel is the level of a block from its dequantized DC coefficient alone.
func dcPixel(dc int32) uint8 {
	v := (dc+4)>>3 + 128
	return uint8(min(max(v, 0), 255))
}

// output writes the size x size pixels of the block at (bx, by) of c from its coefficients blk
// (zigzag order, not yet dequantized).
func (d *decoder) output(c *component, blk *[64]int32, bx, by int) {
	switch d.size {
	case 2:
		d.output2(c, blk, bx, by)
	case 4:
		d.output4(c, blk, bx, by)
	default:
		d.outputN(c, blk, bx, by)
	}
}

// outputN is output for any size.
func (d *decoder) outputN(c *component, blk *[64]int32, bx, by int) {
	n := d.size
	t := &idcts[n]
	q := &d.quant[c.tq]
	f, tmp := &d.f, &d.tmp // every element output reads it writes first
	for i, k := range t.zz {
		f[i] = float32(blk[k&63] * q[k&63])
	}
	// Rows: tmp[v*n+x] = sum_u tab[x][u] f[v][u]; then columns.
	for v := range n {
		fr := f[v*n : v*n+n]
		for x := range n {
			tr := t.tab[x*n : x*n+n]
			var s float32
			for u := range n {
				s += tr[u] * fr[u]
			}
			tmp[v*n+x] = s
		}
	}
	pix := c.pix[by*n*c.stride+bx*n:]
	for y := range n {
		tr := t.tab[y*n : y*n+n]
		row := pix[y*c.stride : y*c.stride+n]
		for x := range n {
			var s float32 = 128.5
			for v := range n {
				s += tr[v] * tmp[v*n+x]
			}
			row[x] = clampPixel(s)
		}
	}
}

// output2 is output at size 2, unrolled: the same operations in the same order.
func (d *decoder) output2(c *component, blk *[64]int32, bx, by int) {
	t := &idcts[2].tab // t[x*2+u]
	q := &d.quant[c.tq]
	// The coefficients (u, v) = (0, 0), (1, 0), (0, 1), (1, 1) are at zigzag 0, 1, 2, 4.
	f0, f1 := float32(blk[0]*q[0]), float32(blk[1]*q[1])
	f2, f3 := float32(blk[2]*q[2]), float32(blk[4]*q[4])
	// Rows, tmp[v*2+x], then columns.
	r0, r1 := t[0]*f0+t[1]*f1, t[2]*f0+t[3]*f1
	r2, r3 := t[0]*f2+t[1]*f3, t[2]*f2+t[3]*f3
	i := by*2*c.stride + bx*2
	top := c.pix[i : i+2]
	bot := c.pix[i+c.stride : i+c.stride+2]
	top[0] = clampPixel(128.5 + t[0]*r0 + t[1]*r2)
	top[1] = clampPixel(128.5 + t[0]*r1 + t[1]*r3)
	bot[0] = clampPixel(128.5 + t[2]*r0 + t[3]*r2)
	bot[1] = clampPixel(128.5 + t[2]*r1 + t[3]*r3)
}

// clampPixel is the level of an output sample s (128 and 0.5 for rounding already added).
func clampPixel(s float32) uint8 {
	return uint8(min(max(s, 0), 255))
}

// output4 is output at size 4, with the sizes known to the compiler: the same operations in the
// same order.
func (d *decoder) output4(c *component, blk *[64]int32, bx, by int) {
	t := (*[16]float32)(idcts[4].tab[:16])
	zz := (*[16]int)(idcts[4].zz)
	q := &d.quant[c.tq]
	var f, tmp [16]float32
	for i, k := range zz {
		f[i] = float32(blk[k&63] * q[k&63])
	}
	for v := range 4 {
		fr := (*[4]float32)(f[v*4:])
		for x := range 4 {
			tr := (*[4]float32)(t[x*4:])
			var s float32
			s += tr[0] * fr[0]
			s += tr[1] * fr[1]
			s += tr[2] * fr[2]
			s += tr[3] * fr[3]
			tmp[v*4+x] = s
		}
	}
	i := by*4*c.stride + bx*4
	for y := range 4 {
		tr := (*[4]float32)(t[y*4:])
		row := (*[4]uint8)(c.pix[i+y*c.stride:])
		for x := range 4 {
			var s float32 = 128.5
			s += tr[0] * tmp[x]
			s += tr[1] * tmp[4+x]
			s += tr[2] * tmp[8+x]
			s += tr[3] * tmp[12+x]
			row[x] = clampPixel(s)
		}
	}
}
