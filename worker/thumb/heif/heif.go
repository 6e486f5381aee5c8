// Package heif reads the container of HEIF files (HEIC, AVIF: ISO base media files, ISO/IEC
// 23008-12) without decoding any pixels: the brands, the primary image item, its thumbnails, its
// properties (size, codec configuration, rotation, mirroring, clean aperture, alpha and grid
// tiles) and where each item's coded data lies. It is what thumbq needs to decide, from a few
// kilobytes of header, whether a small thumbnail item can stand for the photo (as libvips does)
// and what decoding the whole image would cost.
//
// Every length is checked against the data before it is used, boxes nest at most maxDepth deep,
// and the number of items, properties, references and extents is bounded, so that a hostile
// file costs at most a few times its own size to parse (see FuzzParse).
package heif

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// FormatError reports that the data is not a valid HEIF container.
type FormatError string

func (e FormatError) Error() string { return "invalid HEIF: " + string(e) }

// UnsupportedError reports a valid HEIF file that this package does not handle (an image
// sequence without a still image, a protected item, an item stored in another file).
type UnsupportedError string

func (e UnsupportedError) Error() string { return "unsupported HEIF: " + string(e) }

// Bounds on what a file may declare; real photos use a few dozen items (iPhone grids: 48 tiles
// and a thumbnail, Exif, XMP, depth maps and their thumbnails).
const (
	maxDepth   = 8
	maxItems   = 4096
	maxEntries = 1 << 16 // properties, associations, references, extents
)

// File is what the container says.
type File struct {
	MajorBrand string
	Brands     []string // compatible brands
	// Sequence is set when the file holds an image sequence (a moov box, or the msf1, hevs or
	// avis brand). Such a file may still carry a primary still image.
	Sequence bool
	Primary  uint32 // the primary item's ID (pitm); 0 when there is none
	Items    map[uint32]*Item

	idat []byte // the meta box's idat, where items of construction method 1 lie
}

// Item is one item of the meta box: an image (coded, grid, derived) or metadata (Exif, XMP).
type Item struct {
	ID   uint32
	Type string // "hvc1", "av01", "grid", "iden", "iovl", "Exif", "mime", ...

	Width, Height int // ispe: the coded size before transforms; 0 when absent
	Config        []byte
	ConfigType    string // "hvcC" or "av1C", the box type of Config
	Rotation      int    // irot: anticlockwise quarter turns, 0..3
	Mirror        int    // imir's axis: -1 none, 0 exchanges top and bottom (Exif 4), 1 left and right (Exif 2): ISO/IEC 23008-12:2022 6.5.12, as libheif applies it
	Clap          *Clap  // clean aperture, nil when absent
	Alpha         bool   // the item is an auxiliary alpha image (auxC)
	Depth         bool   // the item is an auxiliary depth image (auxC)
	Hidden        bool   // flags bit 0 of infe: not meant to be displayed

	ThumbnailOf uint32   // iref thmb: the item this one is a thumbnail of
	AuxOf       uint32   // iref auxl: the item this one is an auxiliary image of
	Tiles       []uint32 // iref dimg: a grid's (or derivation's) input items, in order

	Extents []Extent // where the coded data lies
	inIdat  bool     // construction method 1: Extents are offsets in the meta box's idat
}

// Extent is one run of an item's data.
type Extent struct{ Offset, Length uint64 }

// Clap is the clean aperture: a Width x Height rectangle centred at the coded image's centre
// moved by (HorizOff, VertOff). Each value is a fraction N/D.
type Clap struct {
	WidthN, WidthD, HeightN, HeightD         uint32
	HorizOffN, HorizOffD, VertOffN, VertOffD int32
}

// Parse reads the container of data. It reads the boxes only; item data is not touched until
// Data is called.
func Parse(data []byte) (*File, error) {
	f := &File{Items: map[uint32]*Item{}}
	var meta []byte
	err := boxes(data, func(typ string, body []byte) error {
		switch typ {
		case "ftyp":
			if len(body) < 8 {
				return FormatError("ftyp box too short")
			}
			f.MajorBrand = string(body[:4])
			for i := 8; i+4 <= len(body); i += 4 {
				f.Brands = append(f.Brands, string(body[i:i+4]))
			}
		case "meta":
			if meta == nil {
				meta = body
			}
		case "moov":
			f.Sequence = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if f.MajorBrand == "" {
		return nil, FormatError("no ftyp box")
	}
	for _, b := range append([]string{f.MajorBrand}, f.Brands...) {
		if b == "msf1" || b == "hevs" || b == "avis" {
			f.Sequence = true
		}
	}
	if meta == nil {
		if f.Sequence {
			return f, UnsupportedError("an image sequence without a still image (no meta box)")
		}
		return nil, FormatError("no meta box")
	}
	if err := f.parseMeta(meta); err != nil {
		return nil, err
	}
	return f, nil
}

// boxes calls fn with the type and body of each box in data, in order.
func boxes(data []byte, fn func(typ string, body []byte) error) error {
	for len(data) > 0 {
		if len(data) < 8 {
			return FormatError("truncated box header")
		}
		size := uint64(binary.BigEndian.Uint32(data))
		typ := string(data[4:8])
		head := uint64(8)
		switch size {
		case 0:
			size = uint64(len(data))
		case 1:
			if len(data) < 16 {
				return FormatError("truncated large box header")
			}
			size, head = binary.BigEndian.Uint64(data[8:]), 16
		}
		if size < head || size > uint64(len(data)) {
			return FormatError(fmt.Sprintf("box %q of %d bytes in %d", typ, size, len(data)))
		}
		if err := fn(typ, data[head:size]); err != nil {
			return err
		}
		data = data[size:]
	}
	return nil
}

// reader reads big-endian fields, remembering the first overrun.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		if r.err == nil {
			r.err = FormatError("truncated box")
		}
		return make([]byte, max(n, 0))
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8   { return r.take(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }

// uint reads an unsigned field of n bytes (0, 4 or 8, as iloc's sizes; 0 reads nothing).
func (r *reader) uint(n int) uint64 {
	switch n {
	case 0:
		return 0
	case 4:
		return uint64(r.u32())
	case 8:
		return binary.BigEndian.Uint64(r.take(8))
	}
	if r.err == nil {
		r.err = FormatError(fmt.Sprintf("field of %d bytes", n))
	}
	return 0
}

// id reads an item ID: 16 bits when short, 32 otherwise.
func (r *reader) id(short bool) uint32 {
	if short {
		return uint32(r.u16())
	}
	return r.u32()
}

// full reads a full box's version and flags.
func (r *reader) full() (version uint8, flags uint32) {
	v := r.u32()
	return uint8(v >> 24), v & 0xffffff
}

// cstring reads a NUL-terminated string (or the rest of the box).
func (r *reader) cstring() string {
	for i, c := range r.b {
		if c == 0 {
			s := string(r.b[:i])
			r.b = r.b[i+1:]
			return s
		}
	}
	s := string(r.b)
	r.b = nil
	return s
}

func (f *File) item(id uint32) (*Item, error) {
	it := f.Items[id]
	if it == nil {
		if len(f.Items) >= maxItems {
			return nil, FormatError("too many items")
		}
		it = &Item{ID: id, Mirror: -1}
		f.Items[id] = it
	}
	return it, nil
}

func (f *File) parseMeta(body []byte) error {
	r := &reader{b: body}
	r.full()
	if r.err != nil {
		return r.err
	}
	var idat []byte
	var ipco [][2]any // property type and body, indexed from 1
	var ipma [][]byte
	err := boxes(r.b, func(typ string, body []byte) error {
		r := &reader{b: body}
		switch typ {
		case "pitm":
			v, _ := r.full()
			f.Primary = r.id(v == 0)
		case "iinf":
			return f.parseIinf(body)
		case "iloc":
			return f.parseIloc(body)
		case "iref":
			return f.parseIref(body)
		case "iprp":
			return parseIprp(body, &ipco, &ipma)
		case "idat":
			idat = body
		}
		return r.err
	})
	if err != nil {
		return err
	}
	for _, b := range ipma {
		if err := f.parseIpma(b, ipco); err != nil {
			return err
		}
	}
	if err := f.checkIdat(idat); err != nil {
		return err
	}
	f.idat = idat
	return nil
}

// parseIinf reads the item information box: one infe box per item.
func (f *File) parseIinf(body []byte) error {
	r := &reader{b: body}
	v, _ := r.full()
	if v == 0 {
		r.u16()
	} else {
		r.u32()
	}
	if r.err != nil {
		return r.err
	}
	return boxes(r.b, func(typ string, body []byte) error {
		if typ == "infe" {
			return f.parseInfe(body)
		}
		return nil
	})
}

// parseIref reads the item reference box: one box per reference type and item.
func (f *File) parseIref(body []byte) error {
	r := &reader{b: body}
	v, _ := r.full()
	if r.err != nil {
		return r.err
	}
	return boxes(r.b, func(typ string, body []byte) error { return f.parseRef(typ, body, v == 0) })
}

// parseIprp collects the item properties box's properties (ipco, in order) and associations (ipma),
// which parseMeta resolves once every item is known.
func parseIprp(body []byte, ipco *[][2]any, ipma *[][]byte) error {
	return boxes(body, func(typ string, body []byte) error {
		switch typ {
		case "ipco":
			return boxes(body, func(typ string, body []byte) error {
				if len(*ipco) >= maxEntries {
					return FormatError("too many properties")
				}
				*ipco = append(*ipco, [2]any{typ, body})
				return nil
			})
		case "ipma":
			*ipma = append(*ipma, body)
		}
		return nil
	})
}

// checkIdat refuses an item stored in the idat box whose extents lie outside it.
func (f *File) checkIdat(idat []byte) error {
	for _, it := range f.Items {
		if it.inIdat {
			for _, e := range it.Extents {
				if e.Offset > uint64(len(idat)) || e.Length > uint64(len(idat))-e.Offset {
					return FormatError(fmt.Sprintf("item %d lies outside the idat box", it.ID))
				}
			}
		}
	}
	return nil
}

func (f *File) parseInfe(body []byte) error {
	r := &reader{b: body}
	v, flags := r.full()
	if v < 2 {
		return nil // versions 0 and 1 describe files, not image items
	}
	id := r.id(v == 2)
	protection := r.u16()
	typ := string(r.take(4))
	if r.err != nil {
		return r.err
	}
	it, err := f.item(id)
	if err != nil {
		return err
	}
	it.Type, it.Hidden = typ, flags&1 != 0
	if protection != 0 {
		it.Type = "protected"
	}
	return nil
}

func (f *File) parseIloc(body []byte) error {
	r := &reader{b: body}
	v, _ := r.full()
	if v > 2 {
		return UnsupportedError(fmt.Sprintf("iloc version %d", v))
	}
	s := r.u16()
	sz := ilocSizes{off: int(s >> 12), length: int(s >> 8 & 15), base: int(s >> 4 & 15), idx: int(s & 15)}
	if v == 0 {
		sz.idx = 0
	}
	var n uint32
	if v < 2 {
		n = uint32(r.u16())
	} else {
		n = r.u32()
	}
	if n > maxItems {
		return FormatError("too many items in iloc")
	}
	for range n {
		if err := f.parseIlocItem(r, v, sz); err != nil {
			return err
		}
	}
	return r.err
}

// ilocSizes are the sizes in bytes of the offset, length, base offset and extent index fields of
// an iloc box (each 0, 4 or 8).
type ilocSizes struct{ off, length, base, idx int }

// parseIlocItem reads one item's location from an iloc box of version v: where its data is
// stored (the file or the idat box) and its extents.
func (f *File) parseIlocItem(r *reader, v uint8, sz ilocSizes) error {
	it, err := f.item(r.id(v < 2))
	if err != nil {
		return err
	}
	method := uint16(0)
	if v >= 1 {
		method = r.u16() & 15
	}
	if ref := r.u16(); ref != 0 {
		return UnsupportedError(fmt.Sprintf("item %d is stored in another file", it.ID))
	}
	base := r.uint(sz.base)
	count := int(r.u16())
	if r.err != nil {
		return r.err
	}
	if count > maxEntries {
		return FormatError("too many extents")
	}
	switch method {
	case 0:
	case 1:
		it.inIdat = true
	default:
		return UnsupportedError(fmt.Sprintf("item %d uses construction method %d", it.ID, method))
	}
	it.Extents = it.Extents[:0]
	for range count {
		r.uint(sz.idx)
		off, length := r.uint(sz.off), r.uint(sz.length)
		if r.err != nil {
			return r.err
		}
		if off > ^uint64(0)-base {
			return FormatError("extent offset overflows")
		}
		it.Extents = append(it.Extents, Extent{base + off, length})
	}
	return nil
}

func (f *File) parseRef(typ string, body []byte, short bool) error {
	r := &reader{b: body}
	from := r.id(short)
	n := int(r.u16())
	if r.err != nil {
		return r.err
	}
	it, err := f.item(from)
	if err != nil {
		return err
	}
	for i := range n {
		to := r.id(short)
		if r.err != nil {
			return r.err
		}
		switch typ {
		case "thmb":
			if i == 0 {
				it.ThumbnailOf = to
			}
		case "auxl":
			if i == 0 {
				it.AuxOf = to
			}
		case "dimg":
			if len(it.Tiles) >= maxEntries {
				return FormatError("too many tiles")
			}
			it.Tiles = append(it.Tiles, to)
		}
	}
	return nil
}

func (f *File) parseIpma(body []byte, ipco [][2]any) error {
	r := &reader{b: body}
	v, flags := r.full()
	n := r.u32()
	if r.err != nil {
		return r.err
	}
	if n > maxItems {
		return FormatError("too many items in ipma")
	}
	for range n {
		it, err := f.item(r.id(v < 1))
		if err != nil {
			return err
		}
		count := int(r.u8())
		for range count {
			var idx int
			if flags&1 != 0 {
				idx = int(r.u16() & 0x7fff)
			} else {
				idx = int(r.u8() & 0x7f)
			}
			if r.err != nil {
				return r.err
			}
			if idx == 0 {
				continue
			}
			if idx > len(ipco) {
				return FormatError(fmt.Sprintf("item %d has property %d of %d", it.ID, idx, len(ipco)))
			}
			if err := it.setProperty(ipco[idx-1][0].(string), ipco[idx-1][1].([]byte)); err != nil {
				return err
			}
		}
	}
	return r.err
}

func (it *Item) setProperty(typ string, body []byte) error {
	r := &reader{b: body}
	switch typ {
	case "ispe":
		r.full()
		w, h := r.u32(), r.u32()
		if r.err == nil && (w > 1<<20 || h > 1<<20) {
			return FormatError(fmt.Sprintf("item %d declares %dx%d", it.ID, w, h))
		}
		it.Width, it.Height = int(w), int(h)
	case "hvcC", "av1C":
		it.Config, it.ConfigType = body, typ
	case "irot":
		it.Rotation = int(r.u8() & 3)
	case "imir":
		it.Mirror = int(r.u8() & 1)
	case "clap":
		c := &Clap{WidthN: r.u32(), WidthD: r.u32(), HeightN: r.u32(), HeightD: r.u32(),
			HorizOffN: int32(r.u32()), HorizOffD: int32(r.u32()), VertOffN: int32(r.u32()), VertOffD: int32(r.u32())}
		if r.err == nil && (c.WidthD == 0 || c.HeightD == 0 || c.HorizOffD == 0 || c.VertOffD == 0) {
			return FormatError(fmt.Sprintf("item %d has a clean aperture dividing by zero", it.ID))
		}
		it.Clap = c
	case "auxC":
		r.full()
		switch urn := r.cstring(); urn {
		case "urn:mpeg:hevc:2015:auxid:1", "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha":
			it.Alpha = true
		case "urn:mpeg:hevc:2015:auxid:2", "urn:mpeg:mpegB:cicp:systems:auxiliary:depth":
			it.Depth = true
		}
	}
	return r.err
}

// Data returns the coded data of an item, its extents joined, from data (the bytes Parse read).
// It refuses an item whose extents lie outside data or add up to more than limit bytes.
func (f *File) Data(data []byte, it *Item, limit uint64) ([]byte, error) {
	src := data
	if it.inIdat {
		src = f.idat
	}
	var total uint64
	for _, e := range it.Extents {
		if e.Offset > uint64(len(src)) || e.Length > uint64(len(src))-e.Offset {
			return nil, FormatError(fmt.Sprintf("item %d's data lies outside the file", it.ID))
		}
		total += e.Length
	}
	if total > limit {
		return nil, FormatError(fmt.Sprintf("item %d's data is %d bytes, over %d", it.ID, total, limit))
	}
	if len(it.Extents) == 1 {
		e := it.Extents[0]
		return src[e.Offset : e.Offset+e.Length], nil
	}
	out := make([]byte, 0, total)
	for _, e := range it.Extents {
		out = append(out, src[e.Offset:e.Offset+e.Length]...)
	}
	return out, nil
}

// ErrNoPrimary is returned by PrimaryItem for a file without a usable primary image.
var ErrNoPrimary = errors.New("no primary image item")

// PrimaryItem returns the primary image item.
func (f *File) PrimaryItem() (*Item, error) {
	it := f.Items[f.Primary]
	if it == nil || it.Type == "" {
		return nil, ErrNoPrimary
	}
	return it, nil
}

// Thumbnails returns the coded image items that are thumbnails of item id (iref thmb), largest
// first.
func (f *File) Thumbnails(id uint32) []*Item {
	var out []*Item
	for _, it := range f.Items {
		if it.ThumbnailOf == id && it.Type != "grid" && it.Config != nil && it.Width > 0 && it.Height > 0 {
			out = append(out, it)
		}
	}
	for i := 1; i < len(out); i++ { // insertion sort: a handful of items
		for j := i; j > 0 && less(out[j-1], out[j]); j-- {
			out[j-1], out[j] = out[j], out[j-1]
		}
	}
	return out
}

func less(a, b *Item) bool {
	if a.Width*a.Height != b.Width*b.Height {
		return a.Width*a.Height < b.Width*b.Height
	}
	return a.ID > b.ID
}

// HasAlpha reports whether item id has an auxiliary alpha image.
func (f *File) HasAlpha(id uint32) bool {
	for _, it := range f.Items {
		if it.AuxOf == id && it.Alpha {
			return true
		}
	}
	return false
}

// DisplaySize is the size of item it as displayed: its ispe size, cut by its clean aperture and
// turned by its rotation.
func (it *Item) DisplaySize() (w, h int) {
	w, h = it.Width, it.Height
	if c := it.Clap; c != nil {
		w, h = min(w, int(c.WidthN/c.WidthD)), min(h, int(c.HeightN/c.HeightD))
	}
	if it.Rotation%2 == 1 {
		w, h = h, w
	}
	return w, h
}
