package thumb

import "golang.org/x/image/bmp"

// BMP, by golang.org/x/image/bmp.
var bmpFormat = format{
	name:   "bmp",
	match:  func(data []byte) bool { return has(data, 0, "BM") && len(data) >= 26 && bmpHeaderSize(data) != 0 },
	config: bmp.DecodeConfig,
	decode: fromReader(bmp.Decode),
	memory: func(_ []byte, w, h, _ int) int64 { return fullImage(w, h, 4) }, // RGBA or NRGBA; paletted is 1
	maxPixels: func([]byte) (int64, string) {
		return bmpMaxPixels, "BMP"
	},
}

// bmpMaxPixels is BMP's pixel limit while x/image/bmp decodes it whole: the 64 MB upload limit
// leaves 100 megapixels only to 1 and 4-bit palettes, decoded a byte a pixel, over the 100 MB
// above idle promised; the README's Memory section has the figures make bench-worst measures.
const bmpMaxPixels = 80_000_000

// bmpHeaderSize returns the DIB header size of a BMP file if it is one of the known sizes, so
// that a text file starting with "BM" is not taken for a bitmap.
func bmpHeaderSize(data []byte) uint32 {
	n := uint32(data[14]) | uint32(data[15])<<8 | uint32(data[16])<<16 | uint32(data[17])<<24
	switch n {
	case 12, 40, 52, 56, 64, 108, 124:
		return n
	}
	return 0
}
