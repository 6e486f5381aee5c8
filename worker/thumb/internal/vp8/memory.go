package vp8

// Memory bounds what Decode allocates for a frame w pixels wide, whatever its height: the rows of
// macroblocks it keeps (luma and chroma, reconstructed and filtered, with the unfiltered rows
// prediction reads), the per-column contexts of parsing and the parser's tables. Bytes per pixel
// of width: 16 luma and 8+8 chroma rows per macroblock row, at most 3 macroblock rows kept, plus
// prediction's unfiltered rows and contexts, doubled for headroom. TestMemoryBoundsDecode, here and in package webpscale,
// checks it.
func Memory(w int) int64 {
	return 200*int64(w+32) + 64<<10
}
