package thumb

import (
	"bytes"
	"context"
	"image"
	"io"
)

// A format is everything Make knows of one image format, in the shape of image.RegisterFormat:
// how to recognise it, read its size, decode it, and what decoding costs. Each format is
// described in its own file (format_jpeg.go, format_png.go...) and listed in formats.
type format struct {
	name string

	// match reports whether data starts like a file of this format.
	match func(data []byte) bool

	// refused, when not empty, is why Make refuses a format it recognises but does not decode. A
	// format with neither refused nor a decode is refused as one thumbq does not decode.
	refused string

	// config reads the dimensions from the header without decoding the pixels.
	config func(io.Reader) (image.Config, error)

	// decode decodes the whole image at full size; it is the reference, and the fallback of
	// decodeReduced. A format without it (HEIF) is decoded by decodeReduced at every shrink.
	decode func(data []byte) (image.Image, error)

	// decodeReduced, optional, decodes the image already reduced: each side of the result is at
	// least floor(side/shrink), and may be larger (the decoder may reduce by less). w and h are
	// the size read by config. It returns errFullDecode for a file it does not handle, which
	// decode then decodes. It checks ctx between rows or blocks and returns ctx.Err() once done.
	decodeReduced func(ctx context.Context, data []byte, w, h, shrink int) (image.Image, error)

	// maxPixels, optional, is this format's own pixel limit for data, below Options.MaxPixels,
	// and what it applies to ("CMYK JPEG decoded whole"): where no decoder keeps a 100 megapixel image
	// within the memory every accepted upload is promised, a lower limit keeps the promise. 0 means
	// none.
	maxPixels func(data []byte) (limit int64, what string)

	// exif, optional, returns the TIFF structure of the EXIF metadata, where the orientation is.
	exif func(data []byte) []byte

	// memory estimates the peak bytes the decode of a w x h image of this format allocates, given
	// the factor shrink (>= 1) the thumbnail allows it to be reduced by (see Estimate). It may
	// look at data's header. The estimates are upper bounds written from what each decoder
	// allocates, not measurements.
	memory func(data []byte, w, h, shrink int) int64
}

// formats are the formats Sniff recognises, in the order they are tried: where two signatures
// could both match (an ISO file whose first box is 256 bytes starts like an ICO; almost any text
// could be SVG), the more specific comes first.
var formats = []*format{
	&jpegFormat, &pngFormat, &gifFormat, &webpFormat, &bmpFormat, &tiffFormat, &bigTIFFFormat,
	&avifFormat, &heicFormat, &jxlFormat, &jp2Format, &pdfFormat, &psdFormat, &qoiFormat,
	&exrFormat, &icoFormat, &svgFormat,
}

// formatNamed returns the format called name, or nil.
func formatNamed(name string) *format {
	for _, f := range formats {
		if f.name == name {
			return f
		}
	}
	return nil
}

// has reports whether data holds sig at offset off.
func has(data []byte, off int, sig string) bool {
	return len(data) >= off+len(sig) && string(data[off:off+len(sig)]) == sig
}

// signatures returns a match function for the formats known by one or more leading signatures.
func signatures(sigs ...string) func([]byte) bool {
	return func(data []byte) bool {
		for _, sig := range sigs {
			if has(data, 0, sig) {
				return true
			}
		}
		return false
	}
}

// fromReader adapts a decoder of the standard library's shape to a format's decode.
func fromReader(decode func(io.Reader) (image.Image, error)) func([]byte) (image.Image, error) {
	return func(data []byte) (image.Image, error) { return decode(bytes.NewReader(data)) }
}

// fullImage is the memory of a full-size image of w x h pixels at bytesPerPixel bytes a pixel.
func fullImage(w, h int, bytesPerPixel int64) int64 {
	return int64(w) * int64(h) * bytesPerPixel
}
