// Package thumb turns the bytes of an image file into a small PNG thumbnail. It knows nothing of
// where the bytes come from.
//
// Make runs an image through a list of steps, each in its own file:
//
//	sniff (sniff.go)             name the format from the bytes, never from a file name
//	check limits (limits.go)     read the dimensions from the header; refuse empty or huge images
//	read orientation (exif.go)   find the EXIF orientation (JPEG, TIFF, WebP, PNG)
//	decode (decode.go, ...)      decode the pixels, JPEG reduced in the DCT domain (decode_jpeg.go)
//	resize (resize.go)           box pre-shrink, then Catmull-Rom to fit the box
//	orient (orient.go)           turn the small image upright
//	encode (encode.go)           write PNG, with alpha only when needed
//
// It decodes JPEG (baseline, progressive, grey, CMYK and Adobe's inverted CMYK/YCCK), PNG (any
// depth, palette, alpha) and GIF (first frame) with the standard library, and WebP (lossy, with
// its limited-range colours corrected, see webp.go, and lossless), BMP and TIFF with
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
// With jpegscale the same JPEG decodes at 1/8 in about a quarter of image/jpeg's time and 0.3 MB
// (see BenchmarkDecode12MP, BenchmarkMake12MP and the figures in the jpegscale package). Memory
// is bounded by the pixel limit: a full-size decoder allocates at most MaxPixels times its bytes
// per pixel (4:2:0 JPEG 1.5, RGBA 4, 16-bit RGBA 8), plus the file itself; a JPEG reduced by 1/8
// needs 1/64 of that (plus, for a progressive file, 2 bytes per 8x8 block).
package thumb
