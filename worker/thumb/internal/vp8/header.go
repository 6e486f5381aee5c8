package vp8

import (
	"fmt"
	"io"
)

// The frame tag and the key frame's start code and dimensions come before the first partition
// (RFC 6386, section 9.1).
const (
	tagSize      = 3
	keyFrameSize = tagSize + 7
)

// truncated reports a frame that ends before what (its header, a partition) is whole. It wraps
// io.ErrUnexpectedEOF, which golang.org/x/image/vp8 gives for the same frames.
func truncated(what string) error {
	return fmt.Errorf("vp8: %s: %w", what, io.ErrUnexpectedEOF)
}

// frameTag is the uncompressed start of a key frame.
type frameTag struct {
	width, height int
	firstSize     int // the size of the first partition in bytes
}

// readFrameTag reads the frame tag and the key frame header that follows it (section 9.1). The
// version number and show_frame flag are not checked and the scaling bits are ignored, as
// golang.org/x/image/vp8 and WebP do.
func readFrameTag(frame []byte) (frameTag, error) {
	if len(frame) < tagSize {
		return frameTag{}, truncated("frame tag")
	}
	if frame[0]&1 != 0 {
		return frameTag{}, UnsupportedError("inter frame")
	}
	if len(frame) < keyFrameSize {
		return frameTag{}, truncated("key frame header")
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return frameTag{}, FormatError("invalid start code")
	}
	return frameTag{
		width:     int(frame[7]&0x3f)<<8 | int(frame[6]),
		height:    int(frame[9]&0x3f)<<8 | int(frame[8]),
		firstSize: int(frame[0])>>5 | int(frame[1])<<3 | int(frame[2])<<11,
	}, nil
}

// DecodeConfig returns the size in pixels of the key frame frame, the payload of a WebP "VP8 "
// chunk, from its first 10 bytes. A width or height of 0 is not refused: x/image/vp8 decodes
// such a frame to an empty picture.
func DecodeConfig(frame []byte) (width, height int, err error) {
	tag, err := readFrameTag(frame)
	if err != nil {
		return 0, 0, err
	}
	return tag.width, tag.height, nil
}

// maxPartitions is the most token partitions a frame may have (section 9.5).
const maxPartitions = 8

// A quantizer holds a segment's dequantization factors (section 9.6, 14.1), indexed by block
// type (typeYAfterY2..typeYOnly) and then 0 for coefficient 0, 1 for the others.
type quantizer [4][2]int32

// A parser reads a key frame's header and then, macroblock by macroblock, its modes from the
// first partition and its coefficients from the token partitions.
type parser struct {
	first  boolDecoder                // the first partition: the frame header, then the modes
	parts  [maxPartitions]boolDecoder // the token partitions; macroblock row y uses parts[y%nparts]
	nparts int
	mbw    int

	updateMap   bool     // each macroblock's segment_id is coded
	segProbs    [3]uint8 // the probabilities of segmentTree
	segment     int      // the segment of the current macroblock: 0 unless updateMap
	useSkip     bool     // each macroblock's mb_skip_coeff is coded
	skipProb    uint8
	coeffProbs  [4][8][3][11]uint8 // after the header's updates, [type][band][context][node]
	quantizers  [4]quantizer       // by segment
	filterLevel [4][2]uint8        // by segment, then 1 for a B_PRED macroblock and 0 for others

	// The contexts that the macroblock above and the one to the left leave: for the subblock
	// modes, the modes of the bottom row (4 per macroblock of the row above) and of the right
	// column; for the coefficients, whether each bottom or right block had a token before its
	// end of block.
	aboveModes []uint8
	leftModes  [4]uint8
	aboveNZ    []nonZero
	leftNZ     nonZero
}

// nonZero records, for the blocks along one edge of a macroblock, whether each had a token
// before its end of block (1) or not (0): the context of the first token of the next block
// across that edge (section 13.3).
type nonZero struct {
	y      [4]uint8
	cb, cr [2]uint8
	y2     uint8
}

// newParser reads the frame header of the key frame frame (sections 9.2 to 9.11 and 19.2) and
// finds its token partitions. It refuses inter frames with an UnsupportedError, and refuses
// every frame that golang.org/x/image/vp8 refuses, with a FormatError, an UnsupportedError or,
// for a frame that ends too soon, an error wrapping io.ErrUnexpectedEOF.
func newParser(frame []byte) (*parser, frameInfo, error) {
	tag, err := readFrameTag(frame)
	if err != nil {
		return nil, frameInfo{}, err
	}
	if tag.firstSize > len(frame)-keyFrameSize {
		return nil, frameInfo{}, truncated("first partition")
	}
	info := frameInfo{
		width:  tag.width,
		height: tag.height,
		mbw:    (tag.width + 15) / 16,
		mbh:    (tag.height + 15) / 16,
	}
	p := &parser{
		mbw:        info.mbw,
		aboveModes: make([]uint8, 4*info.mbw),
		aboveNZ:    make([]nonZero, info.mbw),
	}
	p.first.init(frame[keyFrameSize : keyFrameSize+tag.firstSize])
	d := &p.first

	// color_space and clamping_type: x/image ignores both, and the samples are clamped anyway.
	d.readFlag()
	d.readFlag()

	seg := p.readSegmentation()
	filter, sharpness := p.readFilter(seg)
	info.filter, info.sharpness = filter, sharpness
	if err := p.findPartitions(frame[keyFrameSize+tag.firstSize:]); err != nil {
		return nil, frameInfo{}, err
	}
	p.readQuantizers(seg)

	d.readFlag() // refresh_entropy_probs: only matters to the frames that follow
	p.coeffProbs = defaultCoeffProbs
	for i := range p.coeffProbs {
		for j := range p.coeffProbs[i] {
			for k := range p.coeffProbs[i][j] {
				for l := range p.coeffProbs[i][j][k] {
					if d.readBit(coeffUpdateProbs[i][j][k][l]) {
						p.coeffProbs[i][j][k][l] = uint8(d.readLiteral(8))
					}
				}
			}
		}
	}
	p.useSkip = d.readFlag()
	if p.useSkip {
		p.skipProb = uint8(d.readLiteral(8))
	}
	if d.eof {
		return nil, frameInfo{}, truncated("frame header")
	}
	return p, info, nil
}

// segmentation is what the header says of segments (section 9.3) beyond the macroblocks'
// segment_id.
type segmentation struct {
	enabled   bool
	absolute  bool     // the values are the segments' own, not deltas from the frame's
	quantizer [4]int32 // quantizer index or delta, by segment
	filter    [4]int32 // loop filter level or delta, by segment
}

// readSegmentation reads update_segmentation (section 9.3, 19.2).
func (p *parser) readSegmentation() segmentation {
	d := &p.first
	// Without update_segment_feature_data, x/image/vp8 takes the segments' values as
	// absolute zeros: quantizer index 0 and loop filter level 0 in every segment. (libvpx keeps
	// the previous frame's values, deltas of 0 before any.) This package gives x/image's samples.
	s := segmentation{absolute: true}
	p.segProbs = [3]uint8{255, 255, 255}
	s.enabled = d.readFlag()
	if !s.enabled {
		return s
	}
	p.updateMap = d.readFlag()
	if d.readFlag() { // update_segment_feature_data
		s.absolute = d.readFlag()
		for i := range s.quantizer {
			s.quantizer[i] = d.readOptionalSigned(7)
		}
		for i := range s.filter {
			s.filter[i] = d.readOptionalSigned(6)
		}
	}
	if p.updateMap {
		for i := range p.segProbs {
			if d.readFlag() {
				p.segProbs[i] = uint8(d.readLiteral(8))
			}
		}
	}
	return s
}

// readFilter reads the loop filter's type, level, sharpness and adjustments (section 9.4,
// 19.2) and works out each segment's level for the two kinds of macroblock of a key frame. It
// returns the filter (filterNone when loop_filter_level is 0, which turns the filter off for
// the whole frame whatever the segments say) and the sharpness.
func (p *parser) readFilter(seg segmentation) (filter, sharpness int) {
	d := &p.first
	simple := d.readFlag()
	level := d.readLiteral(6)
	sharpness = int(d.readLiteral(3))
	var refDelta, modeDelta [4]int32
	useDeltas := d.readFlag()      // loop_filter_adj_enable
	if useDeltas && d.readFlag() { // mode_ref_lf_delta_update
		for i := range refDelta {
			refDelta[i] = d.readOptionalSigned(6)
		}
		for i := range modeDelta {
			modeDelta[i] = d.readOptionalSigned(6)
		}
	}
	if level == 0 {
		return filterNone, sharpness
	}
	// Section 9.3 and 15.1 clamp a segment's level to 0..63 before the deltas are added, and
	// the sum again. golang.org/x/image/vp8 does the sums in int8 without the first clamp, and
	// an out of range int8 wraps; the levels here are the same as x/image's, which decides the
	// samples this package must give.
	for s := range p.filterLevel {
		base := int8(level)
		if seg.enabled {
			base = int8(seg.filter[s])
			if !seg.absolute {
				base += int8(level)
			}
		}
		for bpred := range 2 {
			l := base
			if useDeltas {
				l += int8(refDelta[0]) // ref_frame 0: intra, every macroblock of a key frame
				if bpred == 1 {
					l += int8(modeDelta[0]) // mode delta 0: B_PRED
				}
			}
			p.filterLevel[s][bpred] = uint8(min(max(l, 0), 63))
		}
	}
	if simple {
		return filterSimple, sharpness
	}
	return filterNormal, sharpness
}

// findPartitions reads the number of token partitions (section 9.5) from the first partition
// and their sizes from rest, the frame after the first partition, and sets them up. The last
// partition takes the rest of the frame.
func (p *parser) findPartitions(rest []byte) error {
	p.nparts = 1 << p.first.readLiteral(2)
	sizes := 3 * (p.nparts - 1)
	if len(rest) < sizes {
		return truncated("token partition sizes")
	}
	data := rest[sizes:]
	for i := range p.nparts - 1 {
		size := int(rest[3*i]) | int(rest[3*i+1])<<8 | int(rest[3*i+2])<<16
		if size > len(data) {
			return truncated("token partition")
		}
		p.parts[i].init(data[:size])
		data = data[size:]
	}
	// The last partition is the rest of the frame, whatever its size. golang.org/x/image/vp8
	// refuses one of 16 MiB or more, which the format allows and libwebp decodes: a 100 megapixel
	// photograph at high quality, in cwebp's one partition, is that large. This is the one frame
	// this package decodes that x/image refuses.
	p.parts[p.nparts-1].init(data)
	return nil
}

// readQuantizers reads the quantizer indices (section 9.6, 19.2) and works out each segment's
// dequantization factors (section 14.1 and the reference decoder's dixie.c).
func (p *parser) readQuantizers(seg segmentation) {
	d := &p.first
	base := d.readLiteral(7)
	yDC := d.readOptionalSigned(4)
	y2DC := d.readOptionalSigned(4)
	y2AC := d.readOptionalSigned(4)
	uvDC := d.readOptionalSigned(4)
	uvAC := d.readOptionalSigned(4)
	for s := range p.quantizers {
		q := base
		if seg.enabled {
			// As in x/image, the segment's index is not clamped before the deltas are added;
			// only the sums are.
			q = seg.quantizer[s]
			if !seg.absolute {
				q += base
			}
		}
		index := func(delta int32) int32 { return min(max(q+delta, 0), 127) }
		y := [2]int32{int32(dcQLookup[index(yDC)]), int32(acQLookup[index(0)])}
		y2 := [2]int32{2 * int32(dcQLookup[index(y2DC)]), max(int32(acQLookup[index(y2AC)])*155/100, 8)}
		uv := [2]int32{min(int32(dcQLookup[index(uvDC)]), 132), int32(acQLookup[index(uvAC)])}
		p.quantizers[s] = quantizer{typeYAfterY2: y, typeY2: y2, typeChroma: uv, typeYOnly: y}
	}
}
