package thumb

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Formats recognised only to be refused with a clear message (failure.Unsupported rather than
// not-an-image): thumbq decodes none of them.
var (
	jxlFormat = format{name: "jxl", match: signatures("\xff\x0a", "\x00\x00\x00\x0cJXL \r\n\x87\n")}
	jp2Format = format{name: "jp2", match: signatures("\x00\x00\x00\x0cjP  \r\n\x87\n", "\xff\x4f\xff\x51")}
	pdfFormat = format{name: "pdf", match: signatures("%PDF-")}
	psdFormat = format{name: "psd", match: signatures("8BPS")}
	qoiFormat = format{name: "qoi", match: signatures("qoif")}
	exrFormat = format{name: "exr", match: signatures("\x76\x2f\x31\x01")}
	icoFormat = format{name: "ico", match: func(data []byte) bool {
		// An ISO media file whose first box is 256 bytes long starts the same way.
		return has(data, 0, "\x00\x00\x01\x00") && len(data) >= 6 && data[4]|data[5] != 0 && !has(data, 4, "ftyp")
	}}
	svgFormat = format{name: "svg", match: isSVG}
)

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
