package heif

import (
	"encoding/binary"
	"fmt"
)

// Single writes a HEIF file whose only item, and primary image, is the coded image item it of f,
// with its codec configuration and size but none of its transforms: the bytes a HEIF decoder
// needs to decode that one item (a 320-pixel thumbnail, say) without reading the rest of the
// photo. data is the file f was parsed from; limit bounds the item's coded size.
func (f *File) Single(data []byte, it *Item, limit uint64) ([]byte, error) {
	var brand, codec string
	switch it.ConfigType {
	case "hvcC":
		brand, codec = "heic", "hvc1"
	case "av1C":
		brand, codec = "avif", "av01"
	default:
		return nil, UnsupportedError(fmt.Sprintf("item %d of type %q has no HEVC or AV1 configuration", it.ID, it.Type))
	}
	coded, err := f.Data(data, it, limit)
	if err != nil {
		return nil, err
	}
	ftyp := box("ftyp", []byte(brand), u32(0), []byte("mif1"), []byte(brand), []byte("miaf"))
	hdlr := fullBox("hdlr", 0, 0, u32(0), []byte("pict"), make([]byte, 12), []byte{0})
	pitm := fullBox("pitm", 0, 0, u16(1))
	infe := fullBox("infe", 2, 0, u16(1), u16(0), []byte(codec), []byte{0})
	iinf := fullBox("iinf", 0, 0, u16(1), infe)
	ispe := fullBox("ispe", 0, 0, u32(uint32(it.Width)), u32(uint32(it.Height)))
	ipco := box("ipco", box(it.ConfigType, it.Config), ispe)
	ipma := fullBox("ipma", 0, 0, u32(1), u16(1), []byte{2, 0x81, 0x02})
	iprp := box("iprp", ipco, ipma)
	// iloc v0: 4-byte offset and length, no base offset; the offset is filled in below.
	iloc := fullBox("iloc", 0, 0, []byte{0x44, 0x00}, u16(1), u16(1), u16(0), u16(1), u32(0), u32(uint32(len(coded))))
	meta := fullBox("meta", 0, 0, hdlr, pitm, iinf, iloc, iprp)
	offset := len(ftyp) + len(meta) + 8
	// The extent offset is the last 8 bytes but 4 of iloc, which ends meta's children before iprp.
	at := len(ftyp) + len(meta) - len(iprp) - 8
	out := make([]byte, 0, offset+len(coded))
	out = append(out, ftyp...)
	out = append(out, meta...)
	binary.BigEndian.PutUint32(out[at:], uint32(offset))
	out = append(out, u32(uint32(8+len(coded)))...)
	out = append(out, "mdat"...)
	return append(out, coded...), nil
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func box(typ string, parts ...[]byte) []byte {
	n := 8
	for _, p := range parts {
		n += len(p)
	}
	out := append(u32(uint32(n)), typ...)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func fullBox(typ string, version uint8, flags uint32, parts ...[]byte) []byte {
	return box(typ, append([][]byte{u32(uint32(version)<<24 | flags)}, parts...)...)
}
