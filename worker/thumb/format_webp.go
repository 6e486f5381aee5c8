package thumb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"

	"github.com/thumbq/thumbq/worker/thumb/webpscale"
	"golang.org/x/image/webp"
)

// WebP: lossy images reduced while decoding by package webpscale, which streams the VP8 frame's
// rows into the box filter; lossless ones (and lossy ones whose alpha plane is a lossless image),
// and lossy ones when no reduction is needed, decoded whole by golang.org/x/image/webp, with the
// colours of lossy images corrected.
var webpFormat = format{
	name:   "webp",
	match:  func(data []byte) bool { return has(data, 0, "RIFF") && has(data, 8, "WEBP") },
	config: webp.DecodeConfig,
	decode: decodeWebP,
	decodeReduced: func(ctx context.Context, data []byte, _, _, shrink int) (image.Image, error) {
		img, err := webpscale.Decode(ctx, data, shrink)
		if errors.Is(err, webpscale.ErrNotReduced) {
			return nil, fmt.Errorf("%w: %w", errFullDecode, err)
		}
		return img, err
	},
	exif:      webpExif,
	memory:    webpMemory,
	maxPixels: webpMaxPixels,
}

// webpLosslessMaxPixels is the pixel limit of what x/image/webp decodes whole because it is
// lossless: a lossless image's backward references may span the whole image, so no decoder can
// reduce it as it goes. It keeps the decode under the 100 MB above idle promised; the README's
// Memory section has the figures make bench-worst measures.
const webpLosslessMaxPixels = 16_000_000

// webpMaxPixels holds a file webpscale does not decode reduced to the lossless limit: VP8L, or an
// ALPH chunk compressed as a lossless image ("lossy WebP with lossless alpha"). A lossy image with
// no alpha plane or a raw one has no limit of its own.
func webpMaxPixels(data []byte) (int64, string) {
	if _, _, err := webpscale.Config(data); errors.Is(err, webpscale.ErrNotReduced) {
		if has(data, 12, "VP8X") && webpHasChunk(data, "VP8 ") {
			return webpLosslessMaxPixels, "lossy WebP with a lossless alpha plane"
		}
		return webpLosslessMaxPixels, "lossless WebP"
	}
	return 0, ""
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

// decodeWebP decodes a WebP image whole and corrects the colours of lossy ones.
//
// VP8 (lossy WebP) stores limited-range BT.601 YCbCr; golang.org/x/image/webp returns those planes
// as an *image.YCbCr (or NYCbCrA), whose colour conversion is JFIF's full-range one, so the
// decoded picture comes out washed out (golang/go#40173). webpscale.LimitedToFull stretches the
// planes to full range in place, which gives libwebp's colours and keeps the fast YCbCr path of
// the resizer. Lossless WebP (VP8L) is RGB already and is left alone.
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
		webpscale.LimitedToFull(m)
	case *image.NYCbCrA:
		webpscale.LimitedToFull(&m.YCbCr)
	}
	return img, nil
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

// webpMemory: reduced (shrink >= 2), what webpscale.Memory says; at full size, or for a file
// webpscale does not decode reduced, x/image's decode: a lossy image is 4:2:0 YCbCr with an
// optional alpha plane (2.5 bytes a pixel, and a lossless alpha plane's ARGB image besides); a
// lossless one is decoded into 4-byte ARGB pixels, then copied into an NRGBA image (8 bytes a
// pixel at the peak). The larger is assumed.
func webpMemory(data []byte, w, h, shrink int) int64 {
	if shrink >= 2 {
		if _, _, err := webpscale.Config(data); err == nil {
			return webpscale.Memory(w, h, shrink)
		}
	}
	return fullImage(w, h, 8)
}
