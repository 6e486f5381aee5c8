package thumb

import (
	"bytes"
	"encoding/binary"
	"image"

	"golang.org/x/image/webp"
)

// WebP: lossy and lossless, by golang.org/x/image/webp, with the colours of lossy images corrected.
var webpFormat = format{
	name:      "webp",
	match:     func(data []byte) bool { return has(data, 0, "RIFF") && has(data, 8, "WEBP") },
	config:    webp.DecodeConfig,
	decode:    decodeWebP,
	exif:      webpExif,
	memory:    webpMemory,
	maxPixels: webpMaxPixels,
}

// The pixel limits of WebP, which x/image/webp decodes whole: a lossless image's backward
// references may span the whole image, so no decoder can reduce it as it goes; lossy images could
// be decoded by macroblock rows, but x/image does not. These limits keep each under the 100 MB
// above idle promised; the README's Memory section has the figures make bench-worst measures.
const (
	webpLosslessMaxPixels = 16_000_000
	webpLossyMaxPixels    = 50_000_000
)

// webpMaxPixels reads the first chunk: VP8L is lossless; VP8, or VP8X (which may hold either, with
// alpha), is held to the lossless limit unless its image chunk is VP8.
func webpMaxPixels(data []byte) (int64, string) {
	if has(data, 12, "VP8 ") || has(data, 12, "VP8X") && webpHasChunk(data, "VP8 ") {
		return webpLossyMaxPixels, "lossy WebP"
	}
	return webpLosslessMaxPixels, "lossless WebP"
}

// webpHasChunk reports whether a top-level chunk of the RIFF file is called id.
func webpHasChunk(data []byte, id string) bool {
	for i := 12; i+8 <= len(data); {
		if string(data[i:i+4]) == id {
			return true
		}
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			return false
		}
		i += 8 + n + n&1
	}
	return false
}

// decodeWebP decodes a WebP image and corrects the colours of lossy ones.
//
// VP8 (lossy WebP) stores limited-range BT.601 YCbCr: black is Y=16, white is Y=235 and chroma
// spans 16..240. golang.org/x/image/webp returns those planes as an *image.YCbCr (or NYCbCrA),
// whose colour conversion is JFIF's full-range one, so the decoded picture comes out washed out:
// black as (16,16,16)-ish grey, white as (235,235,235) (golang/go#40173). libwebp's dwebp
// computes R = 1.164(Y-16) + 1.596(Cr-128) and so on. Stretching the planes to full range
// (Y' = (Y-16)*255/219, C' = (C-128)*255/224 + 128) before the JFIF conversion gives exactly those
// coefficients, in place, and keeps the fast YCbCr path of the resizer. Lossless WebP (VP8L) is
// RGB already and is left alone.
//
// TestXImageTestImages and TestWebPColoursMatchLibwebp check the correction against the PNGs
// x/image's lossy test images were made from and against libwebp's output.
func decodeWebP(data []byte) (image.Image, error) {
	img, err := webp.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	switch m := img.(type) {
	case *image.YCbCr:
		expandLimitedRange(m)
	case *image.NYCbCrA:
		expandLimitedRange(&m.YCbCr)
	}
	return img, nil
}

var lumaToFull, chromaToFull [256]uint8

func init() {
	clamp := func(v float64) uint8 { return uint8(max(0, min(255, v+0.5))) }
	for i := range 256 {
		lumaToFull[i] = clamp(float64(i-16) * 255 / 219)
		chromaToFull[i] = clamp(float64(i-128)*255/224 + 128)
	}
}

func expandLimitedRange(m *image.YCbCr) {
	for i, v := range m.Y {
		m.Y[i] = lumaToFull[v]
	}
	for i, v := range m.Cb {
		m.Cb[i] = chromaToFull[v]
	}
	for i, v := range m.Cr {
		m.Cr[i] = chromaToFull[v]
	}
}

// webpExif returns the payload of a WebP EXIF chunk.
func webpExif(data []byte) []byte {
	for i := 12; i+8 <= len(data); {
		id := string(data[i : i+4])
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			return nil
		}
		if id == "EXIF" {
			return trimExifHeader(data[i+8 : i+8+n])
		}
		i += 8 + n + n&1 // chunks are padded to an even size
	}
	return nil
}

// webpMemory: a lossy image is 4:2:0 YCbCr with an optional alpha plane (2.5 bytes a pixel); a
// lossless one is decoded by x/image's VP8L decoder into 4-byte ARGB pixels, then copied into an
// NRGBA image (8 bytes a pixel at the peak). The header is not read: the larger is assumed.
func webpMemory(_ []byte, w, h, _ int) int64 { return fullImage(w, h, 8) }
