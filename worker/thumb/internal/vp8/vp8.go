// Package vp8 decodes the key frame of a VP8 stream (RFC 6386), the picture of a lossy WebP, and
// hands it out a band of 16 rows at a time, as soon as the loop filter is done with them, so that
// a caller can reduce the picture while it is decoded and never hold it whole.
//
// Intra prediction reads the pixels of the row of macroblocks above before the loop filter (RFC
// 6386, section 15: the filter is applied to the whole frame after reconstruction), and filtering
// macroblock row r changes the last three rows of row r-1. So the decoder keeps: the unfiltered
// bottom row of pixels of the macroblock row above (for prediction), the macroblock row being
// reconstructed, and the filtered row above it, which is handed out once row r is filtered.
// Memory is a few rows of macroblocks and per-column contexts: about 60 bytes per pixel of width,
// whatever the height.
//
// The package is in two halves that meet in the types of this file:
//   - parsing (bool.go, header.go, modes.go, tokens.go, tables.go): the boolean decoder, the frame
//     header, each macroblock's modes and its dequantized coefficients;
//   - reconstruction (decode.go, predict.go, idct.go, filter.go): prediction, the inverse
//     transforms, the loop filter, and the bands handed out.
//
// golang.org/x/image/vp8, which decodes the whole frame into an *image.YCbCr, is the reference:
// the tests require the same samples from both, and the same refusals but one: a last token
// partition of 16 MiB or more, which x/image refuses and the format allows (see header.go).
package vp8

// A FormatError reports that the data is not a valid VP8 key frame.
type FormatError string

func (e FormatError) Error() string { return "vp8: " + string(e) }

// An UnsupportedError reports a valid VP8 frame this package does not decode (an inter frame).
type UnsupportedError string

func (e UnsupportedError) Error() string { return "vp8: unsupported: " + string(e) }

// The intra prediction modes of a macroblock's luma (RFC 6386, section 11.2, intra_mbmode); its
// chroma uses the first four.
const (
	modeDC = iota // DC_PRED
	modeV         // V_PRED
	modeH         // H_PRED
	modeTM        // TM_PRED
	modeB         // B_PRED: each 4x4 luma subblock has its own mode (bmodes)
)

// The intra prediction modes of a 4x4 luma subblock (section 11.2, intra_bmode), in the RFC's
// order.
const (
	bDC = iota // B_DC_PRED
	bTM        // B_TM_PRED
	bVE        // B_VE_PRED
	bHE        // B_HE_PRED
	bLD        // B_LD_PRED
	bRD        // B_RD_PRED
	bVR        // B_VR_PRED
	bVL        // B_VL_PRED
	bHD        // B_HD_PRED
	bHU        // B_HU_PRED
)

// The loop filter of a frame (section 9.6, filter_type and loop_filter_level).
const (
	filterNone   = iota // loop_filter_level is 0: no filtering
	filterNormal        // filter_type 0
	filterSimple        // filter_type 1
)

// frameInfo is what the frame header tells reconstruction.
type frameInfo struct {
	width, height int // in pixels, from the key frame header (the scaling bits are ignored, as WebP does)
	mbw, mbh      int // in macroblocks: (width+15)/16, (height+15)/16
	filter        int // filterNone, filterNormal or filterSimple
	sharpness     int // sharpness_level, 0..7
}

// Block indices of macroblock.coeffs.
const (
	blockY  = 0  // 16 luma blocks, 0..15, in raster order within the macroblock: block i is at column i%4, row i/4
	blockCb = 16 // 4 Cb blocks, 16..19, in raster order (2x2)
	blockCr = 20 // 4 Cr blocks, 20..23
	blockY2 = 24 // the Y2 block of the luma DCs, present when ymode != modeB
)

// A macroblock is what parsing hands reconstruction for one macroblock.
type macroblock struct {
	ymode  uint8     // modeDC..modeB
	bmodes [16]uint8 // when ymode == modeB, the mode of each luma subblock (bDC..bHU) in raster order
	uvmode uint8     // modeDC..modeTM

	// coeffs are the dequantized coefficients of the 25 blocks, in natural (raster, not zigzag)
	// order within each block. When ymode != modeB the luma blocks' coefficient 0 is not coded:
	// parsing leaves it 0 and gives the Y2 block (blockY2), whose inverse Walsh-Hadamard
	// transform reconstruction writes into coefficient 0 of the 16 luma blocks. When ymode ==
	// modeB the Y2 block is all zero and unused.
	coeffs [25][16]int16

	// skip reports that no coefficient of the macroblock is non-zero: its mb_skip_coeff flag was
	// set, or every block's tokens ended at once. The loop filter leaves the inner edges of such a
	// macroblock alone unless ymode == modeB (section 15.1).
	skip bool

	// filterLevel is the macroblock's loop_filter_level, 0..63, after its segment's and its
	// mode's adjustments (sections 9.3, 9.6): 0 means the macroblock is not filtered.
	filterLevel uint8
}
