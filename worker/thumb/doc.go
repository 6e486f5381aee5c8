// Package thumb turns the bytes of an image file into a small PNG thumbnail. It knows nothing of
// where the bytes come from.
//
// Make runs an image through a list of steps, each in its own file:
//
//	sniff (sniff.go)             name the format from the bytes, never from a file name
//	check limits (limits.go)     read the dimensions from the header; refuse empty or huge images
//	read orientation (exif.go)   find the EXIF orientation (JPEG, TIFF, WebP, PNG)
//	decode (decode.go, webp.go)  decode the pixels (GIF: first frame only)
//	resize (resize.go)           box pre-shrink, then Catmull-Rom to fit the box
//	orient (orient.go)           turn the small image upright
//	encode (encode.go)           write PNG, with alpha only when needed
//
// It decodes JPEG (baseline, progressive, grey, CMYK and Adobe's inverted CMYK) and PNG, GIF with
// the standard library, and WebP (lossy, with its colours corrected, and lossless), BMP and TIFF
// with golang.org/x/image.
//
// # Resampling
//
// BENCHMARK_PLACEHOLDER
package thumb
