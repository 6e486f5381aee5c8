package vp8l

import "context"

// maxGroups is the most prefix-code groups x/image/vp8l decodes (libwebp's MAX_HUFF_IMAGE_SIZE):
// a meta prefix image naming group 2600 or above is refused.
const maxGroups = 2600

// maxWindow is the most pixels a backward reference reaches back: see the package comment.
const maxWindow = 1 << 20

// cacheMultiplier is the colour cache's hash multiplier (section 5.2.3).
const cacheMultiplier = 0x1e35a7bd

// A group is the five prefix codes of section 6.2.2: green (with lengths and cache indices),
// red, blue, alpha, distance.
type group [5]prefixCode

// A decoder decodes the entropy-coded images of one VP8L image, one after the other, with one
// ring of pixels, one colour cache and one code builder.
type decoder struct {
	br     *bitReader
	cb     *codeBuilder
	window []uint32 // the last len(window) pixels of the stream being decoded; a power of two
	row    []uint32 // the row handed out, copied from window

	farthest int // the longest backward reference decoded, for the tests
	cache    [1 << maxCacheBits]uint32
}

// windowSize is the ring a w x h image needs: room for the farthest backward reference, or for
// every pixel of the largest stream (the image, or a colour table of up to 256 entries).
func windowSize(w, h int) int {
	n := 256
	for n < w*h && n < maxWindow {
		n *= 2
	}
	return n
}

// tiles is the most tiles a subsampled image of a w x h image has (2^2-pixel tiles).
func tiles(w, h int) int { return nTiles(w, 2) * nTiles(h, 2) }

// codeLimit is the arena's limit for a w x h image: a group of the largest codes for each tile of
// the meta prefix image (at most maxGroups), one more for each of the four subsampled images,
// and never more than maxCodeEntries.
func codeLimit(w, h int) int {
	return min((min(maxGroups, tiles(w, h))+4)*maxGroupEntries, maxCodeEntries)
}

// maxCodeEntries bounds the table entries of all the prefix codes of one image (8 MB). Images
// from encoders use tens of thousands (cwebp -z 9 at 640x480: 10846); 2600 groups of codes of
// every symbol would need 11.5 million, 23 MB. An image past the bound is refused with a
// FormatError ("prefix codes too large"), the one refusal of data x/image decodes.
const maxCodeEntries = 4 << 20

func nTiles(size int, bits uint) int { return (size + 1<<bits - 1) >> bits }

// newDecoder returns a decoder of a w x h image read from br.
func newDecoder(br *bitReader, w, h int) *decoder {
	return &decoder{
		br:     br,
		cb:     newCodeBuilder(codeLimit(w, h)),
		window: make([]uint32, windowSize(w, h)),
		row:    make([]uint32, max(w, 256)),
	}
}

// decodeImage decodes a w x h image stream (section 7.1: its transforms, then its entropy-coded
// pixels) and calls emit with each row of ARGB pixels, after the inverse transforms.
func (d *decoder) decodeImage(ctx context.Context, w, h int, emit func(y int, row []uint32) error) error {
	br := d.br
	p := &pipeline{emit: emit}
	cw := w // the width of the image after the transforms read so far
	var seen [4]bool
	for br.read(1) == 1 {
		t := &transform{kind: int(br.read(2)), width: cw}
		if err := br.check(); err != nil {
			return err
		}
		if seen[t.kind] {
			return FormatError("repeated transform")
		}
		seen[t.kind] = true
		var err error
		switch t.kind {
		case predictor, crossColor:
			err = d.readTiles(ctx, t, h)
		case subtractGreen:
		case colorIndexing:
			err = d.readPalette(ctx, t)
			cw = nTiles(cw, t.bits)
		}
		if err != nil {
			return err
		}
		p.ts = append(p.ts, t)
	}
	if err := br.check(); err != nil {
		return err
	}
	p.init()
	return d.decodeStream(ctx, cw, h, true, p.row)
}

// readTiles reads the subsampled image of a predictor or colour transform (section 4.1, 4.2):
// its tile size, then its pixels, of which it keeps the predictor's mode (green & 15) or the
// colour transform's multipliers (red, green, blue).
func (d *decoder) readTiles(ctx context.Context, t *transform, h int) error {
	t.bits = uint(d.br.read(3)) + 2
	t.tilesX = nTiles(t.width, t.bits)
	per := 1
	if t.kind == crossColor {
		per = 3
	}
	if err := d.br.check(); err != nil {
		return err
	}
	t.data = make([]byte, per*t.tilesX*nTiles(h, t.bits))
	return d.decodeStream(ctx, t.tilesX, nTiles(h, t.bits), false, func(y int, row []uint32) error {
		o := t.data[per*y*t.tilesX:]
		for x, p := range row {
			if per == 1 {
				o[x] = byte(p>>8) & 15
			} else {
				o[3*x], o[3*x+1], o[3*x+2] = byte(p>>16), byte(p>>8), byte(p)
			}
		}
		return nil
	})
}

// readPalette reads the colour table of a colour-indexing transform (section 4.4): its size,
// then its colours, each coded as the difference from the one before; the entries past its size
// are transparent black. Its size sets how many indices a pixel packs.
func (d *decoder) readPalette(ctx context.Context, t *transform) error {
	n := int(d.br.read(8)) + 1
	if err := d.br.check(); err != nil {
		return err
	}
	switch {
	case n <= 2:
		t.bits = 3
	case n <= 4:
		t.bits = 2
	case n <= 16:
		t.bits = 1
	}
	t.palette = new([256]uint32)
	err := d.decodeStream(ctx, n, 1, false, func(_ int, row []uint32) error {
		copy(t.palette[:], row)
		return nil
	})
	for i := 1; i < n; i++ {
		t.palette[i] = addPixels(t.palette[i], t.palette[i-1])
	}
	return err
}

// decodeStream decodes an entropy-coded image of w x h pixels (section 5.2, 6.2): its colour
// cache size, its meta prefix image if top (only the image itself, not a subsampled one, has
// one), its prefix codes and its pixels. It calls emit with each row, once the data used so far
// is known to be good.
func (d *decoder) decodeStream(ctx context.Context, w, h int, top bool, emit func(y int, row []uint32) error) error {
	br := d.br
	cacheBits := uint(0)
	if br.read(1) == 1 {
		cacheBits = uint(br.read(4))
		if err := br.check(); err != nil {
			return err
		}
		if cacheBits < 1 || cacheBits > maxCacheBits {
			return FormatError("invalid color cache parameters")
		}
	}
	var meta []uint16
	metaBits, metaW := uint(0), 0
	if top && br.read(1) == 1 {
		metaBits = uint(br.read(3)) + 2
		if err := br.check(); err != nil {
			return err
		}
		metaW = nTiles(w, metaBits)
		meta = make([]uint16, metaW*nTiles(h, metaBits))
		err := d.decodeStream(ctx, metaW, nTiles(h, metaBits), false, func(y int, row []uint32) error {
			for x, p := range row {
				meta[y*metaW+x] = uint16(p >> 8)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	groups, err := d.readGroups(meta, cacheBits)
	if err != nil {
		return err
	}
	return d.pixels(ctx, w, h, groups, meta, metaBits, metaW, cacheBits, emit)
}

// readGroups reads the prefix-code groups (section 6.2.2): one, or as many as the largest index
// in the meta prefix image says, which it renumbers to the groups the image uses. Like x/image,
// it refuses an index of maxGroups or more, and checks every group's code lengths unless the
// largest index is 1000 or more or at least the number of tiles, when it reads the unused groups
// past without checking their last step (see codeBuilder.read).
func (d *decoder) readGroups(meta []uint16, cacheBits uint) ([]group, error) {
	n, used := 1, 1
	var slot []int16 // slot[i] is where group i is kept, or -1
	renumber := false
	if meta != nil {
		largest := 0
		for _, g := range meta {
			largest = max(largest, int(g))
		}
		if largest >= maxGroups {
			return nil, FormatError("too many prefix-code groups")
		}
		n = largest + 1
		renumber = largest >= 1000 || largest >= len(meta)
		slot = make([]int16, n)
		for i := range slot {
			slot[i] = -1
		}
		used = 0
		for i, g := range meta {
			if slot[g] < 0 {
				slot[g] = int16(used)
				used++
			}
			meta[i] = uint16(slot[g])
		}
	}
	groups := make([]group, used)
	alphabet := [5]int{numLiterals + numLengthCodes, numLiterals, numLiterals, numLiterals, numDistCodes}
	if cacheBits > 0 {
		alphabet[0] += 1 << cacheBits
	}
	for i := range n {
		k := 0
		if slot != nil {
			k = int(slot[i])
		}
		keep := k >= 0
		for j, size := range alphabet {
			c, err := d.cb.read(d.br, size, keep, keep || !renumber)
			if err != nil {
				return nil, err
			}
			if keep {
				groups[k][j] = c
			}
		}
	}
	return groups, nil
}

// The distance codes 1..120 name the pixels of a neighbourhood (section 5.2.2): dx columns left
// and dy rows up, as dx | dy<<4 with dx biased by 8 (dx is -7..8).
var neighbourhood = [120]uint8{}

func init() {
	pairs := [120][2]int8{
		{0, 1}, {1, 0}, {1, 1}, {-1, 1}, {0, 2}, {2, 0}, {1, 2}, {-1, 2},
		{2, 1}, {-2, 1}, {2, 2}, {-2, 2}, {0, 3}, {3, 0}, {1, 3}, {-1, 3},
		{3, 1}, {-3, 1}, {2, 3}, {-2, 3}, {3, 2}, {-3, 2}, {0, 4}, {4, 0},
		{1, 4}, {-1, 4}, {4, 1}, {-4, 1}, {3, 3}, {-3, 3}, {2, 4}, {-2, 4},
		{4, 2}, {-4, 2}, {0, 5}, {3, 4}, {-3, 4}, {4, 3}, {-4, 3}, {5, 0},
		{1, 5}, {-1, 5}, {5, 1}, {-5, 1}, {2, 5}, {-2, 5}, {5, 2}, {-5, 2},
		{4, 4}, {-4, 4}, {3, 5}, {-3, 5}, {5, 3}, {-5, 3}, {0, 6}, {6, 0},
		{1, 6}, {-1, 6}, {6, 1}, {-6, 1}, {2, 6}, {-2, 6}, {6, 2}, {-6, 2},
		{4, 5}, {-4, 5}, {5, 4}, {-5, 4}, {3, 6}, {-3, 6}, {6, 3}, {-6, 3},
		{0, 7}, {7, 0}, {1, 7}, {-1, 7}, {5, 5}, {-5, 5}, {7, 1}, {-7, 1},
		{4, 6}, {-4, 6}, {6, 4}, {-6, 4}, {2, 7}, {-2, 7}, {7, 2}, {-7, 2},
		{3, 7}, {-3, 7}, {7, 3}, {-7, 3}, {5, 6}, {-5, 6}, {6, 5}, {-6, 5},
		{8, 0}, {4, 7}, {-4, 7}, {7, 4}, {-7, 4}, {8, 1}, {8, 2}, {6, 6},
		{-6, 6}, {8, 3}, {5, 7}, {-5, 7}, {7, 5}, {-7, 5}, {8, 4}, {6, 7},
		{-6, 7}, {7, 6}, {-7, 6}, {8, 5}, {7, 7}, {-7, 7}, {8, 6}, {8, 7},
	}
	for i, p := range pairs {
		neighbourhood[i] = uint8(p[0]+7) | uint8(p[1])<<4
	}
}

// distance converts a distance code to the number of pixels back (section 5.2.2): codes past 120
// count pixels, the others name a neighbour in a stream w pixels wide; at least 1.
func distance(w int, code int) int {
	if code > len(neighbourhood) {
		return code - len(neighbourhood)
	}
	n := neighbourhood[code-1]
	d := int(n&15) - 7 + int(n>>4)*w
	return max(d, 1)
}

// lz77 reads the value of a backward reference's length or distance prefix symbol (section
// 5.2.2): the symbol and its extra bits.
func lz77(br *bitReader, sym uint32) int {
	if sym < 4 {
		return int(sym) + 1
	}
	extra := uint(sym-2) >> 1
	offset := (2 + sym&1) << extra
	return int(offset+br.read(extra)) + 1
}

// pixels decodes the w x h pixels of a stream with its groups, and hands out its rows.
func (d *decoder) pixels(ctx context.Context, w, h int, groups []group, meta []uint16, metaBits uint, metaW int, cacheBits uint, emit func(y int, row []uint32) error) error {
	br := d.br
	win := d.window
	mask := len(win) - 1
	var cache []uint32
	if cacheBits > 0 {
		cache = d.cache[:1<<cacheBits]
		clear(cache)
	}
	shift := 32 - cacheBits
	total := w * h
	tileMask := 1<<metaBits - 1
	g := &groups[0]
	lookup := meta != nil
	pos, x, y := 0, 0, 0

	// endRow hands out row y, which ends at pixel pos.
	endRow := func() error {
		if err := br.check(); err != nil {
			return err
		}
		row := d.row[:w]
		start := (pos - w) & mask
		if n := copy(row, win[start:]); n < w {
			copy(row[n:], win)
		}
		if err := emit(y, row); err != nil {
			return err
		}
		if y&7 == 7 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return nil
	}

	for pos < total {
		if lookup {
			g = &groups[meta[(y>>metaBits)*metaW+x>>metaBits]]
		}
		sym := g[0].decode(br)
		switch {
		case sym < numLiterals:
			r := g[1].decode(br)
			b := g[2].decode(br)
			a := g[3].decode(br)
			p := a<<24 | r<<16 | sym<<8 | b
			win[pos&mask] = p
			if cache != nil {
				cache[(p*cacheMultiplier)>>shift] = p
			}
			pos++
			x++
			lookup = meta != nil && x&tileMask == 0
		case sym < numLiterals+numLengthCodes:
			length := lz77(br, sym-numLiterals)
			dist := distance(w, lz77(br, g[4].decode(br)))
			if dist > pos || length > total-pos {
				return br.fail(FormatError("invalid backward reference"))
			}
			d.farthest = max(d.farthest, dist)
			for length > 0 {
				n := min(length, w-x)
				if s, t := (pos-dist)&mask, pos&mask; cache == nil && dist >= n && s+n <= len(win) && t+n <= len(win) {
					copy(win[t:t+n], win[s:s+n]) // apart, and neither wraps round the ring
					pos += n
				} else {
					for src, end := pos-dist, pos+n; pos < end; pos, src = pos+1, src+1 {
						p := win[src&mask]
						win[pos&mask] = p
						if cache != nil {
							cache[(p*cacheMultiplier)>>shift] = p
						}
					}
				}
				x += n
				length -= n
				if x == w {
					if err := endRow(); err != nil {
						return err
					}
					x = 0
					y++
				}
			}
			lookup = meta != nil
			continue
		default:
			i := int(sym) - numLiterals - numLengthCodes
			if i >= len(cache) {
				return br.fail(FormatError("invalid color cache index"))
			}
			p := cache[i]
			win[pos&mask] = p
			cache[(p*cacheMultiplier)>>shift] = p
			pos++
			x++
			lookup = meta != nil && x&tileMask == 0
		}
		if x == w {
			if err := endRow(); err != nil {
				return err
			}
			x = 0
			y++
			lookup = meta != nil
		}
	}
	return br.check()
}
