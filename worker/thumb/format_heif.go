package thumb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"sync/atomic"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/heic"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/thumb/heif"
)

// HEIC and AVIF, both ISO base media files (HEIF) told apart by their brands, are read as libvips
// reads them. Their container is parsed here (package heif), never by the decoder, and one of two
// paths is chosen from it before any pixel is decoded:
//
//   - the thumbnail item: when the primary image has a thumbnail item (iPhones and heif-enc -t
//     write a 320-pixel one) at least as large, on each side, as the image would be reduced to for
//     the largest size asked (2 to 3 times that size, see job.shrink), that item alone is decoded
//     in this process (github.com/gen2brain/heic or avif: libheif and libavif compiled to
//     WebAssembly, run by wazero, no cgo), and the primary item's clean aperture, rotation and
//     mirroring are applied to it, so it shows what the whole image shows;
//   - the whole image: otherwise (no such item, or an image with alpha, whose thumbnail item would
//     lack it), the whole image is decoded by FullDecoder, in a child process with a memory limit
//     and a deadline (thumbq decode-heif), because the WebAssembly decoders take seconds and
//     hundreds of megabytes for a phone photo and cannot be interrupted. Without FullDecoder such
//     a file is refused.
//
// The EXIF orientation of a HEIF file is not read: irot and imir are what HEIF readers apply, and
// writers turn the EXIF tag into them. Image sequences are read for their primary still image
// (what libheif shows); a sequence without one is refused.
var (
	avifFormat = format{
		name:          "avif",
		match:         func(data []byte) bool { return has(data, 4, "ftyp") && isoBrand(data) == "avif" },
		config:        heifConfig,
		decodeReduced: decodeHEIF,
		memory:        heifMemory,
	}
	heicFormat = format{
		name:          "heic",
		match:         func(data []byte) bool { return has(data, 4, "ftyp") && isoBrand(data) == "heic" },
		config:        heifConfig,
		decodeReduced: decodeHEIF,
		memory:        heifMemory,
	}
)

// A FullDecoder decodes the whole image of a HEIF file (HEIC or AVIF) and returns it reduced by
// shrink (each side floor(side/shrink), at least 1, as boxShrink gives), using at most limit bytes
// of memory, and stops when ctx is done, returning an error that wraps ctx.Err(). A decoder
// returns a *failure.Error for a fault of the file (too much memory included). DecodeHEIFWhole
// is what it runs; the worker runs it in a child process (thumbq decode-heif).
type FullDecoder func(ctx context.Context, data []byte, shrink int, limit int64) (image.Image, error)

// HEIFFullDecoder decodes HEIF files that have no usable thumbnail item. It is nil until the
// program sets it (package main sets the child process), and HEIF files that need it are refused
// while it is nil. Set it before the first Make; it is not guarded for concurrent change.
var HEIFFullDecoder FullDecoder

// heifPlan is what reading a HEIF file's container decided.
type heifPlan struct {
	file    *heif.File
	primary *heif.Item
	thumb   *heif.Item // the thumbnail item to decode, nil to decode the whole image
	alpha   bool
}

// planHEIF parses the container and chooses the thumbnail item to decode for an image of display
// size w x h reduced by shrink, if there is one (see the formats' comment).
func planHEIF(data []byte, w, h, shrink int) (heifPlan, error) {
	f, err := heif.Parse(data)
	if err != nil {
		return heifPlan{}, err
	}
	p, err := f.PrimaryItem()
	if err != nil {
		return heifPlan{}, err
	}
	plan := heifPlan{file: f, primary: p, alpha: f.HasAlpha(p.ID)}
	if plan.alpha || shrink <= 1 {
		return plan, nil
	}
	needW, needH := w/shrink, h/shrink
	for _, t := range f.Thumbnails(p.ID) {
		if t.Type != "hvc1" && t.Type != "av01" {
			continue
		}
		tw, th := displayedLike(p, t)
		if tw >= needW && th >= needH && sameShape(w, h, tw, th) {
			plan.thumb = t
			return plan, nil // the largest that will do is the first: Thumbnails is largest first
		}
	}
	return plan, nil
}

// displayedLike is the size thumbnail item t shows at once the primary item p's transforms are
// applied to it.
func displayedLike(p, t *heif.Item) (int, int) {
	w, h := t.Width, t.Height
	if c := p.Clap; c != nil && p.Width > 0 && p.Height > 0 {
		x0, y0, x1, y1 := clapRect(c, p.Width, p.Height, w, h)
		w, h = x1-x0, y1-y0
	}
	if p.Rotation%2 == 1 {
		w, h = h, w
	}
	return w, h
}

// sameShape reports whether a w2 x h2 thumbnail has the aspect ratio of the w x h image, within
// the rounding of a side of the thumbnail: a thumbnail of another shape (a crop, a frame) cannot
// stand for the image.
func sameShape(w, h, w2, h2 int) bool {
	if w2 <= 0 || h2 <= 0 {
		return false
	}
	// |w/h - w2/h2| within a pixel and a half of either side.
	d := math.Abs(float64(w)*float64(h2) - float64(w2)*float64(h))
	return d <= 1.5*float64(max(w, h))
}

// clapRect scales the clean aperture c of a pw x ph item to a tw x th image of the same picture
// and returns the rectangle it cuts out of that image: the aperture is centred at the item's
// centre moved by its offsets.
func clapRect(c *heif.Clap, pw, ph, tw, th int) (x0, y0, x1, y1 int) {
	cw, ch := float64(c.WidthN)/float64(c.WidthD), float64(c.HeightN)/float64(c.HeightD)
	cw, ch = min(cw, float64(pw)), min(ch, float64(ph))
	ox, oy := float64(c.HorizOffN)/float64(c.HorizOffD), float64(c.VertOffN)/float64(c.VertOffD)
	left, top := (float64(pw)-cw)/2+ox, (float64(ph)-ch)/2+oy
	sx, sy := float64(tw)/float64(pw), float64(th)/float64(ph)
	x0 = clamp(int(math.Round(left*sx)), 0, tw-1)
	y0 = clamp(int(math.Round(top*sy)), 0, th-1)
	x1 = clamp(int(math.Round((left+cw)*sx)), x0+1, tw)
	y1 = clamp(int(math.Round((top+ch)*sy)), y0+1, th)
	return x0, y0, x1, y1
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// heifConfig reads the primary image's size as displayed (after its clean aperture and
// rotation) from the container.
func heifConfig(r io.Reader) (image.Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return image.Config{}, err
	}
	f, err := heif.Parse(data)
	if err != nil {
		return image.Config{}, heifError(err)
	}
	p, err := f.PrimaryItem()
	if err != nil {
		return image.Config{}, heifError(err)
	}
	if p.Width == 0 || p.Height == 0 {
		return image.Config{}, heif.FormatError(fmt.Sprintf("the primary item %d has no size (ispe)", p.ID))
	}
	switch p.Type {
	case "hvc1", "av01", "grid":
	default:
		return image.Config{}, heif.UnsupportedError(fmt.Sprintf("a primary item of type %q", p.Type))
	}
	w, h := p.DisplaySize()
	return image.Config{Width: w, Height: h}, nil
}

// heifError classifies the container's errors: an unsupported file is failure.Unsupported, a
// malformed one stays for decodeError to call corrupt.
func heifError(err error) error {
	var u heif.UnsupportedError
	if errors.As(err, &u) {
		return &failure.Error{Code: failure.Unsupported, Err: err}
	}
	return err
}

// The memory of the thumbnail item's path: upper bounds of what was measured (see the README,
// HEIC and AVIF, and TestHEIFEstimateBoundsWhatMakeAllocates, which also counts the resident
// memory wazero maps outside the Go heap), not worked out from the decoders' code, which runs in
// WebAssembly.
const (
	// heifRuntimeMemory bounds, once per process and codec, what compiling a decoder's
	// WebAssembly module allocates (measured: 47-53 MB of Go heap, under 10 MB outside it). It is
	// counted in every estimate until the module is compiled (compileMemory): two concurrent
	// first images could each compile it.
	heifRuntimeMemory = 96 << 20
	// heifItemMemory bounds, per pixel of the thumbnail item, one decode's WebAssembly linear
	// memory (the coded item, libheif's or libavif's planes, the copy handed to Go) and its
	// copies in Go (the single-item file, the RGBA image, the transformed one).
	heifItemMemory = 64
	// heifInstanceMemory bounds an instance of a decoder module beyond its pixels: its initial
	// linear memory and wazero's per-instance state.
	heifInstanceMemory = 32 << 20
)

// heifProcessMemory is the memory the child process that decodes the whole primary image p of f,
// w x h pixels (see FullDecoder), is expected to need: the Go runtime and the compiled
// WebAssembly module, and the decoder's working memory in proportion to the samples it decodes
// (1.5 a pixel in 4:2:0, 3 in 4:4:4; twice as many bytes above 8 bits). An image for which it
// exceeds HEIFProcessMaxMemory is refused before anything is decoded; the others' child is given
// heifChildLimit of it, which Estimate counts as the image's memory, so that the worker's budget
// admits no more such children than fit.
func heifProcessMemory(f *heif.File, p *heif.Item, w, h int) int64 {
	codec, samples, wide := heifCoding(f, p)
	perSample := int64(heicBytesPerSample)
	if codec == "av1C" {
		perSample = avifBytesPerSample
	}
	if wide {
		perSample *= 2
	}
	return heifProcessBase + perSample*samples*int64(w)*int64(h)/2
}

// Fitted to the smallest limits that decoded whole images (see the README, HEIC and AVIF): a 64x43
// image needs 110-130 MB (the runtime and the compiled module, static build; a cgo build's thread
// stacks add about 50 MB), the 4032x2688 HEIC 4:2:0 350-370 MB, the AVIF 4:2:0 550-700 MB and
// the AVIF 4:4:4 under 850 MB. The Go heap grows by 64 MB arenas, so a limit decodes or not by
// where the collector happened to run: heifChildHeadroom gives each child that much more.
const (
	heifProcessBase    = 160 << 20
	heicBytesPerSample = 14
	avifBytesPerSample = 34
	heifChildHeadroom  = 64 << 20
)

// HEIFProcessMaxMemory is the most memory a child process decoding a whole HEIF image may have:
// an image expected to need more (heifProcessMemory) is refused as failure.TooMuchMemory before
// anything is decoded. With the constants above it admits HEIC 4:2:0 8-bit up to 11.98 million
// pixels, HEIC 4:4:4 up to 5.99, AVIF 4:2:0 up to 4.93 and AVIF 4:4:4 up to 2.47 (half as many
// above 8 bits); larger ones are thumbnailed only from a thumbnail item.
const HEIFProcessMaxMemory = 400 << 20

// heifChildLimit is the memory limit (RLIMIT_DATA) given to the child for an image expected to
// need need bytes: with heifChildHeadroom, within HEIFProcessMaxMemory.
func heifChildLimit(need int64) int64 {
	return min(need+heifChildHeadroom, HEIFProcessMaxMemory)
}

// heifTooLarge refuses the whole decode of the primary image p of f, w x h, when its process
// would need more than HEIFProcessMaxMemory, naming the limit; nil otherwise.
func heifTooLarge(f *heif.File, p *heif.Item, w, h int) *failure.Error {
	need := heifProcessMemory(f, p, w, h)
	if need <= HEIFProcessMaxMemory {
		return nil
	}
	codec, samples, wide := heifCoding(f, p)
	name, chroma, depth := "heic", map[int64]string{2: "monochrome", 3: "4:2:0", 4: "4:2:2", 6: "4:4:4"}[samples], "8-bit"
	if codec == "av1C" {
		name = "avif"
	}
	if wide {
		depth = "over 8 bits"
	}
	return failure.New(failure.TooMuchMemory, name, "%s %dx%d (%s, %s) has no thumbnail item large enough for the sizes asked, and decoding it whole would need an estimated %d MB, over the %d MB limit of the decoder process",
		name, w, h, chroma, depth, need>>20, HEIFProcessMaxMemory>>20)
}

// heifCoding reads the codec configuration of p (a grid's: its first tile's): the codec
// ("hvcC", "av1C"), the samples decoded for two pixels (3 in 4:2:0, 4 in 4:2:2, 6 in 4:4:4, 2
// in monochrome) and whether the samples are wider than 8 bits. Unreadable, it assumes 4:4:4 and
// wide samples, the costliest.
func heifCoding(f *heif.File, p *heif.Item) (codec string, samples int64, wide bool) {
	it := p
	if p.Type == "grid" && len(p.Tiles) > 0 && f.Items[p.Tiles[0]] != nil {
		it = f.Items[p.Tiles[0]]
	}
	c := it.Config
	switch {
	case it.ConfigType == "hvcC" && len(c) >= 19:
		// chroma_format_idc in byte 16, bit_depth_luma_minus8 in byte 17.
		return "hvcC", [4]int64{2, 3, 4, 6}[c[16]&3], c[17]&7 > 0
	case it.ConfigType == "av1C" && len(c) >= 3:
		// byte 2: seq_tier_0, high_bitdepth, twelve_bit, monochrome, chroma_subsampling_x, _y.
		mono, sx, sy := c[2]&0x10 != 0, c[2]&0x08 != 0, c[2]&0x04 != 0
		samples = 6
		switch {
		case mono:
			samples = 2
		case sx && sy:
			samples = 3
		case sx:
			samples = 4
		}
		return "av1C", samples, c[2]&0x40 != 0
	}
	return it.ConfigType, 6, true
}

// heifMemory estimates the decode of the primary item of data, w x h as displayed, reduced by
// shrink: for the thumbnail item, the runtime and the item; for the whole image, the child
// process's limit, which this process does not allocate but the container does.
func heifMemory(data []byte, w, h, shrink int) int64 {
	plan, err := planHEIF(data, w, h, shrink)
	if err != nil {
		return 0 // Make refuses the file before it allocates
	}
	if plan.thumb == nil {
		if heifTooLarge(plan.file, plan.primary, w, h) != nil {
			return int64(len(data)) // refused before anything is decoded
		}
		return heifChildLimit(heifProcessMemory(plan.file, plan.primary, w, h)) + fullImage(max(1, w/shrink), max(1, h/shrink), 4)
	}
	t := plan.thumb
	return compileMemory(t.ConfigType) + heifInstanceMemory + heifItemMemory*int64(t.Width)*int64(t.Height) + int64(len(data))
}

// heicCompiled and avifCompiled record that the HEIC or the AVIF decoder's WebAssembly module is
// compiled in this process (gen2brain's packages compile each once per process, on first use or
// when asked, and share it between decodes); from then on an estimate no longer counts it.
var heicCompiled, avifCompiled atomic.Bool

// compileMemory is what decoding an item of codec ("hvcC", "av1C") will allocate to compile its
// decoder's module: heifRuntimeMemory until that is done, then nothing.
func compileMemory(codec string) int64 {
	done := &heicCompiled
	if codec == "av1C" {
		done = &avifCompiled
	}
	if done.Load() {
		return 0
	}
	return heifRuntimeMemory
}

// HEIFPrepareMemory bounds what PrepareHEIF allocates: both modules' compilations, one after the
// other (the garbage of the first is collectable before the second ends, but not counted on).
const HEIFPrepareMemory = 2 * heifRuntimeMemory

// PrepareHEIF compiles the HEIC and the AVIF decoders' WebAssembly modules in this process, so that
// no image pays for it: compiling is most of the CPU a thumbnail item costs (see the README, HEIC
// and AVIF), once per process and codec, and a decode after it is tens of milliseconds. A
// long-lived worker calls it once at start-up, in the background, having reserved
// HEIFPrepareMemory of its budget; without it the first image of each codec compiles its module.
// It may run concurrently with Make. The child process that decodes a whole image compiles its own.
func PrepareHEIF() (err error) {
	defer func() {
		if r := recover(); r != nil { // the packages panic when their module does not compile
			err = fmt.Errorf("compile the HEIF decoders: %v", r)
		}
	}()
	heic.Init()
	heicCompiled.Store(true)
	avif.InitDecoder()
	avifCompiled.Store(true)
	return nil
}

// decodeHEIF decodes a HEIF file by the path planHEIF chooses.
func decodeHEIF(ctx context.Context, data []byte, w, h, shrink int) (image.Image, error) {
	plan, err := planHEIF(data, w, h, shrink)
	if err != nil {
		return nil, heifError(err)
	}
	if plan.thumb == nil {
		if HEIFFullDecoder == nil {
			return nil, &failure.Error{Code: failure.Unsupported,
				Err: errors.New("a HEIF image without a thumbnail item large enough is decoded whole in a child process, which this program does not run")}
		}
		if e := heifTooLarge(plan.file, plan.primary, w, h); e != nil {
			return nil, e
		}
		img, err := HEIFFullDecoder(ctx, data, shrink, heifChildLimit(heifProcessMemory(plan.file, plan.primary, w, h)))
		if err != nil {
			return nil, err
		}
		if b := img.Bounds(); b.Dx() < w/shrink || b.Dy() < h/shrink || b.Dx() > w || b.Dy() > h {
			return nil, fmt.Errorf("the whole image decoded as %dx%d, not %dx%d reduced by %d", b.Dx(), b.Dy(), w, h, shrink)
		}
		return img, nil
	}
	single, err := plan.file.Single(data, plan.thumb, uint64(len(data)))
	if err != nil {
		return nil, err
	}
	img, err := decodeHEIFCodec(plan.thumb.ConfigType, single)
	if err != nil {
		return nil, fmt.Errorf("thumbnail item %d: %w", plan.thumb.ID, err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if b := img.Bounds(); b.Dx() != plan.thumb.Width || b.Dy() != plan.thumb.Height {
		return nil, heif.FormatError(fmt.Sprintf("thumbnail item %d decoded as %dx%d; its ispe says %dx%d",
			plan.thumb.ID, b.Dx(), b.Dy(), plan.thumb.Width, plan.thumb.Height))
	}
	return transformLike(boxShrink(img, 1), plan.primary), nil
}

// decodeHEIFCodec decodes a HEIF file with the decoder of codec ("hvcC" or "av1C").
func decodeHEIFCodec(codec string, data []byte) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the decoder panicked: %v", r)
		}
	}()
	if codec == "av1C" {
		img, err = avif.Decode(bytes.NewReader(data))
		avifCompiled.Store(true) // returning at all, it compiled the module
		return img, err
	}
	img, err = heic.Decode(bytes.NewReader(data))
	heicCompiled.Store(true)
	return img, err
}

// transformLike applies the primary item p's transforms to m, a thumbnail of p's coded picture,
// in the order MIAF prescribes: clean aperture, rotation, mirroring.
func transformLike(m *image.RGBA, p *heif.Item) *image.RGBA {
	if c := p.Clap; c != nil && p.Width > 0 && p.Height > 0 {
		x0, y0, x1, y1 := clapRect(c, p.Width, p.Height, m.Rect.Dx(), m.Rect.Dy())
		m = m.SubImage(image.Rect(x0, y0, x1, y1).Add(m.Rect.Min)).(*image.RGBA)
	}
	// irot turns anticlockwise; transform takes EXIF orientations: 8 turns a quarter
	// anticlockwise, 3 a half, 6 three quarters (a quarter clockwise).
	if o := [4]int{1, 8, 3, 6}[p.Rotation&3]; o != 1 {
		m = transform(m, o)
	}
	// imir's axis as libheif reads it (HEIF, second edition): 0 exchanges top and bottom
	// (EXIF 4), 1 left and right (EXIF 2).
	switch p.Mirror {
	case 0:
		m = transform(m, 4)
	case 1:
		m = transform(m, 2)
	}
	return m
}

// DecodeHEIFWhole decodes the whole primary image of a HEIF file in this process, with libheif's
// or libavif's WebAssembly build, and returns it reduced by shrink as premultiplied RGBA: what a
// FullDecoder runs, in a process of its own. It takes seconds and hundreds of megabytes for a
// phone photo (see the README) and cannot be interrupted.
func DecodeHEIFWhole(data []byte, shrink int) (*image.RGBA, error) {
	f, err := heif.Parse(data)
	if err != nil {
		return nil, decodeError("heif", "container", heifError(err))
	}
	p, err := f.PrimaryItem()
	if err != nil {
		return nil, decodeError("heif", "container", err)
	}
	codec := p.ConfigType
	if p.Type == "grid" && len(p.Tiles) > 0 {
		if t := f.Items[p.Tiles[0]]; t != nil {
			codec = t.ConfigType
		}
	}
	img, err := decodeHEIFCodec(codec, data)
	if err != nil {
		return nil, decodeError("heif", "image", err)
	}
	return boxShrink(img, max(1, shrink)), nil
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
