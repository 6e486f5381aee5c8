package vp8

// Memory bounds what Decode allocates for a frame w pixels wide, whatever its height: the two
// macroblock rows it keeps (16 luma and 8+8 chroma rows each: 48 bytes a pixel of width), the
// unfiltered row above that prediction reads, the per-column contexts of parsing and the parser's
// tables: about 52 bytes a pixel of width and 5 KB, bounded here at 200 and 64 KB for headroom.
// TestMemoryBoundsDecode, here and in package webpscale, checks it.
func Memory(w int) int64 {
	return 200*int64(w+32) + 64<<10
}
