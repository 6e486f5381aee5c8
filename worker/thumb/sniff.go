package thumb

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// decodable lists the formats Make decodes; Sniff may name others, which Make refuses as
// Unsupported.
var decodable = map[string]bool{"jpeg": true, "png": true, "gif": true, "webp": true, "bmp": true, "tiff": true}

// Sniff names the image format of data from its leading bytes, never from a file name:
// "jpeg", "png", "gif", "webp", "bmp" or "tiff" for the formats Make decodes, or one of "heic",
// "avif", "jxl", "jp2", "svg", "pdf", "psd", "ico", "qoi", "bigtiff", "exr" for formats it knows
// but does not decode. It returns "" for anything else.
func Sniff(data []byte) string {
	has := func(off int, sig string) bool {
		return len(data) >= off+len(sig) && string(data[off:off+len(sig)]) == sig
	}
	switch {
	case has(0, "\xff\xd8\xff"):
		return "jpeg"
	case has(0, "\x89PNG\r\n\x1a\n"):
		return "png"
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return "gif"
	case has(0, "RIFF") && has(8, "WEBP"):
		return "webp"
	case has(0, "BM") && len(data) >= 26 && bmpHeaderSize(data) != 0:
		return "bmp"
	case has(0, "II*\x00"), has(0, "MM\x00*"):
		return "tiff"
	case has(0, "II+\x00"), has(0, "MM\x00+"):
		return "bigtiff"
	case has(4, "ftyp"):
		return isoBrand(data)
	case has(0, "\xff\x0a"), has(0, "\x00\x00\x00\x0cJXL \r\n\x87\n"):
		return "jxl"
	case has(0, "\x00\x00\x00\x0cjP  \r\n\x87\n"), has(0, "\xff\x4f\xff\x51"):
		return "jp2"
	case has(0, "%PDF-"):
		return "pdf"
	case has(0, "8BPS"):
		return "psd"
	case has(0, "qoif"):
		return "qoi"
	case has(0, "\x76\x2f\x31\x01"):
		return "exr"
	case has(0, "\x00\x00\x01\x00") && len(data) >= 6 && data[4]|data[5] != 0:
		return "ico"
	case isSVG(data):
		return "svg"
	}
	return ""
}

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

// isoBrand names the image format of an ISO base media file (HEIF family) from its major and
// compatible brands; it returns "" for other ISO files such as MP4 video.
func isoBrand(data []byte) string {
	size := int(data[0])<<24 | int(data[1])<<16 | int(data[2])<<8 | int(data[3])
	if size < 16 || size > len(data) {
		size = min(len(data), 64)
	}
	var brands []string
	for off := 8; off+4 <= size; off += 4 {
		if off == 12 {
			continue // minor version
		}
		brands = append(brands, string(data[off:off+4]))
	}
	for _, b := range brands {
		switch b {
		case "avif", "avis":
			return "avif"
		}
	}
	for _, b := range brands {
		switch b {
		case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1":
			return "heic"
		}
	}
	return ""
}

// isSVG reports whether data is text whose first element (after an XML declaration, comments and
// a doctype) is <svg.
func isSVG(data []byte) bool {
	head := data[:min(len(data), 4096)]
	if !utf8.Valid(head) && !utf8.Valid(head[:max(0, len(head)-3)]) {
		return false
	}
	s := strings.ToLower(strings.TrimLeft(string(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))), " \t\r\n"))
	for {
		switch {
		case strings.HasPrefix(s, "<svg"):
			return true
		case strings.HasPrefix(s, "<?"), strings.HasPrefix(s, "<!--"), strings.HasPrefix(s, "<!doctype svg"):
			end := ">"
			if strings.HasPrefix(s, "<!--") {
				end = "-->"
			}
			i := strings.Index(s, end)
			if i < 0 {
				return false
			}
			s = strings.TrimLeft(s[i+len(end):], " \t\r\n")
		default:
			return false
		}
	}
}

// describe quotes the first bytes of data for a "not an image" message.
func describe(data []byte) string {
	if len(data) == 0 {
		return "the input is empty"
	}
	head := data[:min(len(data), 16)]
	return fmt.Sprintf("%d bytes starting %q match no image format", len(data), head)
}
