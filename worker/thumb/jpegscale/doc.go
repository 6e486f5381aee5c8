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
// restart intervals, greyscale or YCbCr with any chroma subsampling image.YCbCr has, and Adobe
// CMYK and YCCK with the two samplings image/jpeg reads (all 1x1; 2x2, 1x1, 1x1, 2x2), converted
// at the reduced size to image/jpeg's *image.CMYK. Everything else (arithmetic coding, 12-bit
// samples, lossless and hierarchical files, RGB, 4 components without an Adobe marker, other
// sampling factors) is refused with an UnsupportedError, for a full decoder to handle.
//
// # Speed and memory
//
// At 1/8 most of the time goes into Huffman-decoding AC coefficients only to skip them; a skip
// table costs more to build than it saves on a small scan (BenchmarkBuildSkip), so only scans of
// skipTableMinBlocks blocks or more get them. The allocations are the output planes; decoders
// (Huffman and skip tables, the coefficients of progressive files: 2 bytes per block at 1/8, 10 at
// 1/4, 50 at 1/2, 128 at 1/1, plus 8 for a non-zero mask when AC scans reach past the coefficients
// kept) are kept in a sync.Pool. BenchmarkDecode measures it on the inputs make bench writes to
// .bench/inputs; the README's benchmark section has the figures.
package jpegscale
