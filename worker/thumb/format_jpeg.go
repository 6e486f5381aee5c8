package thumb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/thumb/jpegscale"
)

// JPEG: reduced while decoding by package jpegscale, CMYK and YCCK included; what it does not
// handle (RGB, arithmetic coding, 12-bit, lossless, CMYK without an Adobe marker, and invalid files
// image/jpeg tolerates) goes to image/jpeg at full size, which stays the reference.
var jpegFormat = format{
	name:          "jpeg",
	match:         signatures("\xff\xd8\xff"),
	config:        jpeg.DecodeConfig,
	decode:        fromReader(jpeg.Decode),
	decodeReduced: decodeJPEGReduced,
	exif:          jpegExif,
	memory:        jpegMemory,
	maxPixels:     jpegMaxPixels,
}

// jpegWholeCMYKMaxPixels is the pixel limit of the 4-component (CMYK, YCCK) JPEGs that jpegscale
// does not decode and image/jpeg decodes whole, its planes and an *image.CMYK, 8 bytes a pixel
// (the README's memory section has what that costs): those whose header does not show a frame
// jpegscale reads (see jpegCMYKReducible). The others have no limit of their own.
const jpegWholeCMYKMaxPixels = 10_000_000

func jpegMaxPixels(data []byte) (int64, string) {
	if _, _, nc, ok := jpegFrame(data); ok && nc == 4 && !jpegCMYKReducible(data) {
		return jpegWholeCMYKMaxPixels, "CMYK and YCCK JPEG decoded whole (no Adobe marker, or sampling factors, coding or precision jpegscale does not read)"
	}
	return 0, ""
}

// jpegCMYKReducible reports whether the header of a 4-component JPEG shows a file jpegscale
// decodes: an Adobe APP14 marker before the scan, a Huffman-coded 8-bit baseline, extended or
// progressive frame, and the samplings image/jpeg reads (all 1x1, or 2x2, 1x1, 1x1, 2x2).
func jpegCMYKReducible(data []byte) bool {
	adobe, sof := false, false
	jpegSegments(data, func(m byte, seg []byte) bool {
		switch {
		case m == 0xee && len(seg) >= 12 && string(seg[:5]) == "Adobe":
			adobe = true
		case m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc:
			sof = m <= 0xc2 && len(seg) == 6+3*4 && seg[0] == 8 && seg[5] == 4 &&
				(seg[7] == 0x11 || seg[7] == 0x22) && seg[10] == 0x11 && seg[13] == 0x11 && seg[16] == seg[7]
		}
		return true
	})
	return adobe && sof
}

// decodeJPEGReduced decodes a JPEG reduced by the largest of 8, 4 and 2 that shrink allows, in
// the DCT domain (see package jpegscale). Like libvips it never reduces by more than shrink,
// which leaves at least a factor 2 for the final filter. A file jpegscale does not handle goes to
// image/jpeg through errFullDecode, but for a 4-component one over jpegWholeCMYKMaxPixels that
// jpegscale refuses only once in its scans (invalid data image/jpeg may tolerate): decoded whole
// it would break the memory every accepted upload is promised, so it is refused as unsupported.
func decodeJPEGReduced(ctx context.Context, data []byte, w, h, shrink int) (image.Image, error) {
	s := jpegShrink(shrink)
	if s < 2 {
		return nil, errFullDecode
	}
	img, err := jpegscale.DecodeContext(ctx, data, s)
	if errors.As(err, new(jpegscale.UnsupportedError)) {
		if _, _, nc, _ := jpegFrame(data); nc == 4 && int64(w)*int64(h) > jpegWholeCMYKMaxPixels {
			return nil, &failure.Error{Code: failure.Unsupported, Format: "jpeg", Err: fmt.Errorf(
				"jpeg %dx%d: over the %s megapixels a CMYK JPEG may be decoded whole in, and %w", w, h, megapixels(jpegWholeCMYKMaxPixels), err)}
		}
		return nil, fmt.Errorf("%w: %w", errFullDecode, err)
	}
	if err != nil {
		return nil, err
	}
	return trimPartialEdges(img, w, h, s), nil
}

// jpegShrink is the largest of jpegscale's factors 8, 4 and 2 that is at most shrink, or 1.
func jpegShrink(shrink int) int {
	s := 8
	for s > 1 && s > shrink {
		s /= 2
	}
	return s
}

// trimPartialEdges drops the last column or row of an image reduced by f from a w x h source
// when it stands for less than half of f source pixels: a 675 pixel high JPEG decoded at 1/8 is
// 85 rows high, of which the last holds 3 source rows, and resampling it as a whole row would
// stretch the picture by 5/8 of a row, which shows against libvips (its thumbnails of such files
// follow the true 84.375 rows). Rounding to the nearest whole row leaves at most half a row of
// error.
func trimPartialEdges(img image.Image, w, h, f int) image.Image {
	b := img.Bounds()
	if f <= 1 || (w+f-1)/f != b.Dx() || (h+f-1)/f != b.Dy() {
		return img // not reduced, or not to jpegscale's ceil(w/f) x ceil(h/f)
	}
	tw, th := max(1, (w+f/2)/f), max(1, (h+f/2)/f)
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok || tw == b.Dx() && th == b.Dy() {
		return img
	}
	return sub.SubImage(image.Rect(b.Min.X, b.Min.Y, b.Min.X+tw, b.Min.Y+th))
}

// jpegSegments calls fn with each marker segment (marker, payload) of a JPEG up to the start of
// the scan, until fn returns false.
func jpegSegments(data []byte, fn func(marker byte, seg []byte) bool) {
	i := 2 // after SOI
	for i+4 <= len(data) {
		if data[i] != 0xff {
			return
		}
		marker := data[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0xd8 || marker >= 0xd0 && marker <= 0xd7 || marker == 0x01: // no length
			i += 2
			continue
		case marker == 0xda || marker == 0xd9: // start of scan, end of image
			return
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return
		}
		if !fn(marker, data[i+4:i+2+n]) {
			return
		}
		i += 2 + n
	}
}

// jpegExif returns the TIFF structure inside the first APP1 Exif segment.
func jpegExif(data []byte) []byte {
	var tiff []byte
	jpegSegments(data, func(marker byte, seg []byte) bool {
		if marker == 0xe1 && bytes.HasPrefix(seg, exifHeader) {
			tiff = seg[len(exifHeader):]
			return false
		}
		return true
	})
	return tiff
}

// jpegFrame reads the start-of-frame segment: its marker (0xc0 baseline ... 0xc2 progressive...),
// sample precision and number of components. ok is false when there is none before the scan.
func jpegFrame(data []byte) (marker byte, precision, components int, ok bool) {
	jpegSegments(data, func(m byte, seg []byte) bool {
		if m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc && len(seg) >= 6 {
			marker, precision, components, ok = m, int(seg[0]), int(seg[5]), true
			return false
		}
		return true
	})
	return marker, precision, components, ok
}

// jpegDecoderState bounds the memory of jpegscale's decoder besides the image (see jpegMemory).
const jpegDecoderState = 128 << 10

// jpegMemory estimates the peak memory of a JPEG decode from the frame header.
//
// When the thumbnail allows a reduction of 2 or more and the frame is one jpegscale decodes
// (8-bit Huffman-coded baseline, extended or progressive, 1 or 3 components, or 4 as
// jpegCMYKReducible says), jpegscale allocates its output planes, at most one byte per reduced
// pixel and component (no chroma subsampling) over the grid padded to whole MCUs (32 pixels at
// most), for 4 components the reduced *image.CMYK (4 bytes a reduced pixel) on top, and, for a
// progressive file, per 8x8 block and component 2 bytes for each coefficient kept (1 at 1/8, 5 at
// 1/4, 25 at 1/2) and 8 for a mask of the others. Otherwise image/jpeg decodes at full size: a byte per
// pixel and component over the padded grid; for 4 components, an *image.CMYK of 4 bytes a pixel
// on top; for a progressive file, the coefficients of every block, 4 bytes a pixel and
// component. A file jpegscale refuses only once in its scans (rare: invalid data image/jpeg
// tolerates) falls back to the full-size decode, which this estimate then undercounts.
//
// jpegscale's decoder state (about 54 KB of Huffman tables, and 16 KB of skip table for each of
// up to four AC tables) is pooled, but a garbage collection empties the pool: it is counted as
// jpegDecoderState.
func jpegMemory(data []byte, w, h, shrink int) int64 {
	marker, precision, nc, ok := jpegFrame(data)
	if !ok {
		nc = 4 // unknown: the costliest
	}
	progressive := marker == 0xc2 || marker == 0xc6 || marker == 0xca || marker == 0xce
	pw, ph := int64((w+31)/32*32), int64((h+31)/32*32)
	blocks := pw * ph / 64 * int64(nc)
	if s := jpegShrink(shrink); s >= 2 && ok && marker <= 0xc2 && precision == 8 && (nc == 1 || nc == 3 || nc == 4 && jpegCMYKReducible(data)) {
		n := int64(nc) * ((pw + int64(s) - 1) / int64(s)) * ((ph + int64(s) - 1) / int64(s))
		if nc == 4 {
			n += 4 * int64((w+s-1)/s) * int64((h+s-1)/s)
		}
		if progressive {
			kept := map[int]int64{8: 1, 4: 5, 2: 25}[s]
			n += blocks * (2*kept + 8)
		}
		return n + jpegDecoderState
	}
	n := int64(nc) * pw * ph
	if nc == 4 {
		n += 4 * pw * ph
	}
	if progressive {
		n += blocks * 64 * 4
	}
	return n
}
