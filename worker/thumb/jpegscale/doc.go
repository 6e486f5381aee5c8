// Package jpegscale decodes JPEG images reduced by 1/2, 1/4 or 1/8 in the DCT domain, written
// from the JPEG specification, ITU T.81. It is meant for thumbnails: the time and memory of a
// reduced decode grow with the output, not with the full-size pixels.
//
// At 1/8 each output pixel is the DC coefficient of its 8x8 block (its mean); no inverse DCT,
// upsampling or colour conversion runs. At 1/4 and 1/2 a 2x2 or 4x4 inverse DCT of the block's
// top-left coefficients gives the means of 4x4 or 2x2 pixels. A sequential file still has to be
// Huffman-decoded whole, so that is where the time goes: lookup tables decode a code and its
// extra bits at once, and the AC coefficients past those kept are skipped several at a time, with
// a skip table per AC table giving the bits and the zigzag advance of all the whole symbols that
// start the next 12 bits (see huffman.go and skipScan). A progressive file at 1/8 needs only its
// DC scans, and the AC scans are skipped by searching for the next marker.
//
// It decodes baseline and extended sequential (Huffman, 8-bit) and progressive files, with
// restart intervals, greyscale or YCbCr with any chroma subsampling image.YCbCr has. Everything
// else (arithmetic coding, 12-bit samples, lossless and hierarchical files, CMYK/YCCK, RGB,
// other sampling factors) is refused with an UnsupportedError, for a full decoder to handle.
//
// # Speed and memory
//
// Measured with `go test -bench . ./worker/thumb/jpegscale` on the inputs of /tmp/bench-inputs
// (Go 1.26, a 2-core VM whose speed varies from run to run: the best of three runs, and the
// range):
//
//	4000x3000 baseline 4:4:4 (2 MB) at 1/8      12 ms (11.6-12.0)   0.57 MB   4 allocs
//	                               at 1/4        23 ms (22.8-24.0)   2.3 MB
//	                               at 1/2        63 ms (62.6-69.2)   9.0 MB
//	the same pixels, progressive, at 1/8         12 ms (11.8-13.5)   0.58 MB   4 allocs
//	                               at 1/4       101 ms (101-115)     3.3 MB
//	9464x5324 baseline (9 MB) at 1/8             48 ms (47.7-53.3)   2.4 MB    4 allocs
//	image/jpeg, the 4000x3000 file at full size 221 ms (221-268)     36 MB
//
// At 1/8 most of the time goes into Huffman-decoding AC coefficients only to skip them; a skip
// table takes about 30 us to build, so only scans of 4096 blocks or more get them. The
// allocations are the output planes; decoders (Huffman and skip tables, the coefficients of
// progressive files: 2 bytes per block at 1/8, 10 at 1/4, 50 at 1/2, 128 at 1/1, plus 8 for a
// non-zero mask when AC scans reach past the coefficients kept) are kept in a sync.Pool.
package jpegscale
