package thumb

import (
	"github.com/thumbq/thumbq/worker/failure"

	"bytes"
	"encoding/binary"
)

// readOrientation finds the EXIF orientation (1..8) of the image: in a JPEG's APP1 Exif segment,
// a TIFF's own first IFD, a WebP EXIF chunk or a PNG eXIf chunk. A missing, unreadable or out of
// range tag leaves it at 1: metadata that cannot be read is no reason to refuse the pixels.
func readOrientation(j *job) *failure.Error {
	var tiffData []byte
	switch j.format {
	case "jpeg":
		tiffData = jpegExif(j.data)
	case "tiff":
		tiffData = j.data
	case "webp":
		tiffData = webpExif(j.data)
	case "png":
		tiffData = pngExif(j.data)
	}
	if o := tiffOrientation(tiffData); o >= 1 && o <= 8 {
		j.orientation = o
	}
	return nil
}

var exifHeader = []byte("Exif\x00\x00")

// jpegExif returns the TIFF structure inside the first APP1 Exif segment, walking the markers up to
// the start of the scan.
func jpegExif(data []byte) []byte {
	i := 2 // after SOI
	for i+4 <= len(data) {
		if data[i] != 0xff {
			return nil
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
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xe1 && bytes.HasPrefix(seg, exifHeader) {
			return seg[len(exifHeader):]
		}
		i += 2 + n
	}
	return nil
}

// webpExif returns the payload of a WebP EXIF chunk. Some writers put the JPEG-style "Exif\0\0"
// prefix in front of the TIFF header; it is skipped.
func webpExif(data []byte) []byte {
	for i := 12; i+8 <= len(data); {
		id := string(data[i : i+4])
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			return nil
		}
		if id == "EXIF" {
			return bytes.TrimPrefix(data[i+8:i+8+n], exifHeader)
		}
		i += 8 + n + n&1 // chunks are padded to an even size
	}
	return nil
}

// pngExif returns the payload of a PNG eXIf chunk, which must come before the image data.
func pngExif(data []byte) []byte {
	for i := 8; i+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		id := string(data[i+4 : i+8])
		if n < 0 || n > len(data)-i-12 || id == "IDAT" {
			return nil
		}
		if id == "eXIf" {
			return bytes.TrimPrefix(data[i+8:i+8+n], exifHeader)
		}
		i += 12 + n
	}
	return nil
}

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
