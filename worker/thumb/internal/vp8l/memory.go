package vp8l

import "unsafe"

// Memory bounds what Decode and DecodeAlpha allocate for a w x h image, whatever the data:
//   - the ring of pixels backward references reach into: 4 bytes a pixel, at most 2^20 pixels;
//   - rows: the stream's row, the predictor's row above, the unpacked row and the output row;
//   - the subsampled images, kept whole, at their finest (4x4-pixel tiles): a byte a tile for the
//     predictor's modes, three for the colour transform, a uint16 for the meta prefix image;
//   - the prefix codes: the group structures and the arena of their tables (see codeLimit), with
//     the waste of its chunks;
//   - the code builder's scratch space, the colour cache and a constant for small allocations,
//     all rounded up to what the allocator hands out.
//
// At 100 MP the subsampled images (37.5 MB) and the limit on the prefix codes (8 MB) are most
// of it; only hostile data approaches either.
func Memory(width, height int) int64 {
	w := int64(width)
	tiles := int64(tiles(width, height))
	groups := int64(min(maxGroups, int(tiles)) + 4)
	limit := int64(codeLimit(width, height))
	window := 4 * int64(windowSize(width, height))
	rows := 4 * (4*w + 256 + 16)
	subimages := 6 * tiles
	codes := groups*int64(unsafe.Sizeof(group{})) + 2*(limit+(7+limit/30000)*(1<<rootBits+maxAlphabet)+arenaChunk)
	builder := int64(unsafe.Sizeof(codeBuilder{})) + (2*maxAlphabet)*int64(unsafe.Sizeof(trieNode{})) + maxAlphabet*int64(unsafe.Sizeof(leafCode{})) + int64(unsafe.Sizeof(decoder{}))
	n := window + rows + subimages + codes + builder
	return n + n/16 + 64<<10
}
