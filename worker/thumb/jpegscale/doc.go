// Package jpegscale decodes JPEG images reduced by 1/2, 1/4 or 1/8 in the DCT domain, written
// from the JPEG specification, ITU T.81. It is meant for thumbnails: the time and memory of a
// reduced decode grow with the output, not with the full-size pixels.
//
// At 1/8 each output pixel is the DC coefficient of its 8x8 block (its mean); no inverse DCT,
// upsampling or colour conversion runs. At 1/4 and 1/2 a 4x4 or 2x2 inverse DCT of the block's
// top-left coefficients gives the means of 2x2 or 4x4 pixels. A sequential file still has to be
// Huffman-decoded whole, so that is where the time goes (lookup tables decode an AC code and its
// extra bits at once, see huffman.go); a progressive file at 1/8 needs only its DC scans, and the
// AC scans are skipped by searching for the next marker.
//
// It decodes baseline and extended sequential (Huffman, 8-bit) and progressive files, with
// restart intervals, greyscale or YCbCr with any chroma subsampling image.YCbCr has. Everything
// else (arithmetic coding, 12-bit samples, lossless and hierarchical files, CMYK/YCCK, RGB,
// other sampling factors) is refused with an error wrapping ErrUnsupported, for a full decoder
// to handle.
package jpegscale
