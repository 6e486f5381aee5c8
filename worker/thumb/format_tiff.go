package thumb

import "golang.org/x/image/tiff"

// TIFF: the first image of the file, by golang.org/x/image/tiff. BigTIFF, which it does not
// read, is recognised and refused.
var tiffFormat = format{
	name:   "tiff",
	match:  signatures("II*\x00", "MM\x00*"),
	config: tiff.DecodeConfig,
	decode: fromReader(tiff.Decode),
	exif:   func(data []byte) []byte { return data }, // a TIFF's first IFD holds its own tags
	memory: tiffMemory,
}

var bigTIFFFormat = format{name: "bigtiff", match: signatures("II+\x00", "MM\x00+")}

// tiffMemory: the image, at most 8 bytes a pixel (16-bit RGBA), and the uncompressed data of the
// strips or tiles x/image/tiff reads whole before converting, at most as much again.
func tiffMemory(_ []byte, w, h, _ int) int64 { return fullImage(w, h, 8+8) }
