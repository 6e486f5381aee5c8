// Package thumb turns the bytes of an image file into a small PNG thumbnail. It knows nothing of
// where the bytes come from.
//
// Make runs an image through a list of steps, each in its own file:
//
//	sniff (sniff.go)             name the format from the bytes, never from a file name
//	check limits (limits.go)     read the dimensions from the header; refuse empty or huge images
//	read orientation (exif.go)   find the EXIF orientation, where the format keeps it
//	decode (decode.go)           decode the pixels, reduced while decoding where the format allows
//	resize (resize.go)           box pre-shrink, then Catmull-Rom to fit the box
//	orient (orient.go)           turn the small image upright
//	encode (encode.go)           write PNG, with alpha only when needed
//
// Every error Make returns is a *failure.Error (package worker/failure) with a stable code:
// failure.NotImage, failure.Unsupported, failure.TooManyPixels or failure.Corrupt.
//
// # Formats
//
// Each format is one file, format_<name>.go, in the shape of image.RegisterFormat: its
// signature, its header reader, its full-size decoder, its reduced decoder and EXIF reader where
// it has them, and an estimate of the memory its decode takes; formats (format.go) lists them in
// the order Sniff tries them. A new format touches its own file and that list.
//
//	jpeg   reduced while decoding by package jpegscale (1/2, 1/4 or 1/8 in the DCT domain),
//	       CMYK and YCCK converted at the reduced size; what jpegscale does not handle (RGB,
//	       arithmetic coding, 12-bit, lossless, CMYK without an Adobe marker, invalid files
//	       image/jpeg tolerates) by image/jpeg at full size
//	png    reduced while decoding by package pngscale, which inflates and unfilters row by row
//	       (pass by pass when interlaced) and averages blocks as the rows go by; image/png when
//	       no reduction is needed
//	gif    first frame only, on its logical screen: reduced while decoding by package gifscale
//	       (LZW rows streamed into the box filter, interlaced ones by row mapping); image/gif
//	       when no reduction is needed
//	webp   lossy and lossless, with or without alpha, at every size by package webpscale: a
//	       lossy picture streamed a band of 16 rows at a time by package internal/vp8, its
//	       limited-range colours corrected, a lossless one a row at a time by internal/vp8l
//	bmp    uncompressed, RLE8 and RLE4: reduced while decoding by package bmpscale (rows summed
//	       into the box filter where they lie in the file, or as RLE completes them);
//	       golang.org/x/image/bmp when no reduction is needed, bmpscale for RLE at every size
//	tiff   the first image: reduced while decoding by package tiffscale (strips or tiles,
//	       none, LZW, deflate or PackBits); golang.org/x/image/tiff for the rest, under a limit
//
// HEIC and AVIF are recognised and refused with a reason (format_heif.go); BigTIFF, JPEG XL,
// JPEG 2000, SVG, PDF, PSD, ICO, QOI and OpenEXR are recognised and refused as formats thumbq does
// not decode (format_unsupported.go), so that their owners learn why.
//
// # Memory
//
// Estimate reads the header as Make does and bounds the memory Make will use, before any pixel is
// decoded, so that a worker can hold the work until memory is free. A full-size decode allocates
// the whole image (from 1 byte a pixel for grey to 8 for 16-bit RGBA); a reduced one allocates the
// reduced image and a few rows or blocks: a JPEG reduced by 8 needs 1/64 of the planes of a
// full-size decode, a PNG reduced while decoding two rows of the source and its 256 KB inflate
// window, whatever its size. The pixel limit (Options.MaxPixels) bounds them all.
//
// # Reduced decoding and resampling
//
// When the thumbnail is at least 2 times smaller than the source, a format with a reduced decoder
// decodes it already reduced, by at most the factor that leaves the image twice the thumbnail's
// size (JPEG: the largest of 1/8, 1/4, 1/2 within it, as libvips chooses), so that neither time
// nor memory grows with the full-size pixels. Resize then averages integer blocks (a box
// pre-shrink, package internal/box, shared with pngscale) down to 2 to 4 times the target, and
// Catmull-Rom resamples that to the exact size: package internal/catmullrom, golang.org/x/image/draw's
// kernel and geometry (within a level of 255 of its CatmullRom.Scale) in fixed point, keeping a few
// filtered rows instead of x/image's float64 copy of the whole image. Catmull-Rom widens its
// kernel when shrinking, so it does not alias, but over a whole 12 megapixel image it is slow; the
// pre-shrink gives the same picture (TestBoxPreShrinkLooksLikeCatmullRomAlone) at a small
// fraction of the cost. github.com/nfnt/resize, the usual alternative, is no longer maintained.
//
// The thumbnails of the photographs in testdata stay close to vipsthumbnail's
// (TestJPEGThumbnailsMatchVipsthumbnail). The measured speed and memory of the engine, against
// libvips, ffmpeg and ImageMagick, are in the README's benchmark section, written by make bench.
package thumb
