package thumb

import (
	"fmt"

	"github.com/thumbq/thumbq/worker/failure"
)

// Sniff names the image format of data from its leading bytes, never from a file name:
// "jpeg", "png", "gif", "webp", "bmp", "tiff", "heic" or "avif" for the formats Make decodes, or
// one of "jxl", "jp2", "svg", "pdf", "psd", "ico", "qoi", "bigtiff", "exr" for formats it knows
// but does not decode. It returns "" for anything else.
func Sniff(data []byte) string {
	if f := sniffFormat(data); f != nil {
		return f.name
	}
	return ""
}

// sniffFormat returns the first of formats that data matches, or nil.
func sniffFormat(data []byte) *format {
	for _, f := range formats {
		if f.match(data) {
			return f
		}
	}
	return nil
}

// sniff names the format from the bytes and refuses what Make does not decode.
func sniff(j *job) *failure.Error {
	j.format = sniffFormat(j.data)
	switch {
	case j.format == nil:
		return failure.New(failure.NotImage, "", "%s", describe(j.data))
	case j.format.refused != "":
		return failure.New(failure.Unsupported, j.format.name, "%s", j.format.refused)
	case j.format.decode == nil && j.format.decodeReduced == nil:
		return failure.New(failure.Unsupported, j.format.name, "%s is an image format thumbq does not decode", j.format.name)
	}
	return nil
}

// describe quotes the first bytes of data for a "not an image" message.
func describe(data []byte) string {
	if len(data) == 0 {
		return "the input is empty"
	}
	head := data[:min(len(data), 16)]
	return fmt.Sprintf("%d bytes starting %q match no image format", len(data), head)
}
