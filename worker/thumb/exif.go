package thumb

import (
	"bytes"
	"encoding/binary"

	"github.com/thumbq/thumbq/worker/failure"
)

// readOrientation finds the EXIF orientation (1..8) of the image where its format keeps EXIF
// metadata (format.exif: a JPEG's APP1 Exif segment, a TIFF's own first IFD, a WebP EXIF chunk, a
// PNG eXIf chunk). A missing, unreadable or out of range tag leaves it at 1: metadata that cannot
// be read is no reason to refuse the pixels.
func readOrientation(j *job) *failure.Error {
	if j.format.exif == nil {
		return nil
	}
	if o := tiffOrientation(j.format.exif(j.data)); o >= 1 && o <= 8 {
		j.orientation = o
	}
	return nil
}

var exifHeader = []byte("Exif\x00\x00")

// trimExifHeader drops the JPEG-style "Exif\0\0" prefix some writers put in front of the TIFF
// header of a WebP or PNG EXIF chunk.
func trimExifHeader(b []byte) []byte { return bytes.TrimPrefix(b, exifHeader) }

// tiffOrientation reads tag 0x0112 (Orientation) of IFD0 from a TIFF structure in either byte
// order. It returns 0 when there is none.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var order binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		order = binary.LittleEndian
	case "MM\x00*":
		order = binary.BigEndian
	default:
		return 0
	}
	ifd := int64(order.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 0
	}
	count := int64(order.Uint16(t[ifd:]))
	for k := int64(0); k < count; k++ {
		e := ifd + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 0
		}
		if order.Uint16(t[e:]) != 0x0112 {
			continue
		}
		typ, n := order.Uint16(t[e+2:]), order.Uint32(t[e+4:])
		if n < 1 {
			return 0
		}
		switch typ {
		case 3: // SHORT, stored in the first two bytes of the value field
			return int(order.Uint16(t[e+8:]))
		case 4: // LONG, written by a few tools
			return int(order.Uint32(t[e+8:]))
		}
		return 0
	}
	return 0
}
