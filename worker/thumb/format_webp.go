package thumb

import (
	"context"
	"encoding/binary"
	"image"

	"github.com/thumbq/thumbq/worker/thumb/webpscale"
	"golang.org/x/image/webp"
)

// WebP: lossy and lossless, with or without alpha, decoded by package webpscale at every size,
// reduced while decoding: a lossy picture a band of 16 rows at a time (its colours corrected from
// VP8's limited range), a lossless one a row at a time, neither ever held whole.
// golang.org/x/image/webp, which decodes the whole picture, is the reference of webpscale's tests.
var webpFormat = format{
	name:   "webp",
	match:  func(data []byte) bool { return has(data, 0, "RIFF") && has(data, 8, "WEBP") },
	config: webp.DecodeConfig,
	decodeReduced: func(ctx context.Context, data []byte, _, _, shrink int) (image.Image, error) {
		return webpscale.Decode(ctx, data, shrink)
	},
	exif:   webpExif,
	memory: webpscale.Memory,
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
