// Package thumb turns the bytes of an image file into a small PNG thumbnail. It knows nothing of
// where the bytes come from.
//
// Make runs an image through a list of steps, each in its own file:
//
//	sniff (sniff.go)             name the format from the bytes, never from a file name
//	check limits (limits.go)     read the dimensions from the header; refuse empty or huge images
//	read orientation (exif.go)   find the EXIF orientation (JPEG, TIFF, WebP, PNG)
//	decode (decode*.go, webp.go) decode the pixels, reduced while decoding where the format
//	                             allows (JPEG: decode_jpeg.go, PNG: decode_png.go); GIF: first
//	                             frame only
//	resize (resize.go)           box pre-shrink, then Catmull-Rom to fit the box
//	orient (orient.go)           turn the small image upright
//	encode (encode.go)           write PNG, with alpha only when needed
//
// It decodes JPEG with package jpegscale (below) or, for what that does not handle, the standard
// library (baseline, progressive, grey, CMYK and Adobe's inverted CMYK/YCCK); GIF (first frame)
// with the standard library; PNG (any depth, palette, alpha) with package pngscale,
// which inflates and unfilters it row by row (pass by pass when interlaced) and averages blocks
// as the rows go by, or with image/png when it needs no reduction; and WebP (lossy, with its
// limited-range colours corrected, see webp.go, and lossless), BMP and TIFF with
// golang.org/x/image.
//
// # JPEG reduced while decoding
//
// When the thumbnail is at least 4 times smaller than a JPEG source, the JPEG is decoded already
// reduced by 1/8, 1/4 or 1/2 (the largest that leaves the image at least twice the thumbnail,
// as libvips chooses) by the package jpegscale, written for thumbq from the JPEG specification:
// at 1/8 a pixel is the DC coefficient of its 8x8 block, so no inverse DCT, upsampling or colour
// conversion runs at full size, and memory grows with the reduced image only. It handles
// baseline and progressive Huffman-coded 8-bit files, grey or YCbCr with any chroma subsampling,
// with or without restart intervals: the files cameras and encoders write. The rest (CMYK and
// YCCK, RGB, arithmetic coding, 12-bit, lossless, and invalid files image/jpeg tolerates) falls
// back to image/jpeg at full size, which stays the reference. The thumbnails of five photos stay
// within 0.5 to 1.8 levels in 255 of vipsthumbnail's (TestJPEGThumbnailsMatchVipsthumbnail).
//
// # Resampling
//
// Thumbnails are resampled with golang.org/x/image/draw's Catmull-Rom after an integer box
// pre-shrink (resize.go), not with github.com/nfnt/resize: nfnt is no longer maintained, and
// its Lanczos3 straight to 64x64 took about 240 ms on a decoded 12 megapixel photo when measured
// for the issue. x/image/draw is maintained with Go, and its Catmull-Rom widens its kernel when
// shrinking, so it does not alias; over a whole 12 MP image it is slow, which the box pre-shrink
// (to 2-4 times the target) fixes with the same picture: TestBoxPreShrinkLooksLikeCatmullRomAlone
// finds a mean difference of about 1 level in 255.
//
// Measured with `go test -bench . ./worker/thumb` before the JPEG decoder that reduces (Go 1.26,
// 2-core AMD VM shared with other work, so the ranges of three runs are wide), a 4000x3000 4:2:0
// JPEG to 64x48:
//
//	resize alone, box pre-shrink + Catmull-Rom (used)    12-19 ms   0.3 MB
//	resize alone, Catmull-Rom over the whole source     260-274 ms   6.6 MB
//	resize alone, ApproxBiLinear over the whole source      0.1 ms   (aliases: it reads only
//	                                                                  a few source pixels)
//	JPEG decode alone (image/jpeg)                       127-159 ms    18 MB
//	Make: decode + thumbnail + PNG                       139-179 ms    19 MB
//	Make refusing the 30000x30000 PNG bomb                 1.6 us    1.4 KB
//
// With jpegscale the same JPEG decodes at 1/8 in about a quarter of image/jpeg's time and 0.6 MB
// (see BenchmarkDecode12MP, BenchmarkMake12MP and the figures in the jpegscale package).
//
// # PNG
//
// A PNG over twice the thumbnail's size is decoded by pngscale straight to the box pre-shrink's
// size, so no full-size image is ever made. Its own inflater (pngscale/inflate.go, fuzzed against
// compress/zlib) replaced compress/flate, which was three quarters of the decode time. A 4000x3000
// RGB PNG written by libvips at zlib level 6 (21 MB, no row filters) to 64x48, per-image CPU time
// (user+sys) of `thumbq thumbnail` and of libvips 8.14's vipsthumbnail: CPU time for 8 copies
// less that for 1, divided by 7; six runs on the same 2-core VM, busy with other work:
//
//	thumbq, pngscale (used)                     189-213 ms   peak RSS 37-38 MB for one file
//	thumbq, image/png full decode (before)      400-437 ms   peak RSS 87 MB for one file
//	vipsthumbnail -s 64x64                      190-264 ms   peak RSS 41 MB for one file
//
// (thumbq's peak RSS for a 1x1 PNG is 14.6 MB: the rest is mostly the 21 MB file, held whole.)
// In `go test -bench . ./worker/thumb/...` on the same file (wall time, the quieter of several
// runs on the same busy VM, whose load moved these figures by up to 2x):
//
//	Make, pngscale (used)                       148-155 ms    1.3 MB      52 allocs
//	Make, image/png full decode                 313-446 ms     52 MB   22317 allocs
//	pngscale.Decode (reduced 31-fold)           150-177 ms    0.1 MB       4 allocs
//	image/png.Decode                            298-390 ms     51 MB   22269 allocs
//	inflate alone: pngscale's inflater          132-138 ms     64 B        1 alloc
//	inflate alone: compress/zlib                243-247 ms    3.0 MB   22260 allocs
//	inflate alone: klauspost/compress/zlib      195-201 ms   (v1.20.3, measured outside the module)
//
// A PNG written by image/png filters nearly every row with Paeth; pngscale.Decode takes 183-192 ms
// on the same photo written so (BenchmarkDecode12MP), image/png 460-750 ms.
//
// Memory is bounded by the pixel limit: a full-size decoder allocates at most MaxPixels times its
// bytes per pixel (4:2:0 JPEG 1.5, RGBA 4, 16-bit RGBA 8), plus the file itself. A PNG reduced
// while decoding needs two rows of the source, the reduced image and a 256 KB inflate window
// (reused across images), plus the file. A JPEG reduced by 1/8 needs 1/64 of a full-size decode's memory (plus, for a progressive file,
// 2 bytes per 8x8 block).
package thumb
