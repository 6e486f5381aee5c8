package vp8

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	xvp8 "golang.org/x/image/vp8"
)

// boolEncoder writes booleans as RFC 6386's bool_encoder does (section 7.3), for testing the
// decoder.
type boolEncoder struct {
	out         []byte
	rng, bottom uint32
	bitCount    int
}

func newBoolEncoder() *boolEncoder {
	return &boolEncoder{rng: 255, bitCount: 24}
}

func (e *boolEncoder) write(prob uint8, bit bool) {
	split := 1 + (e.rng-1)*uint32(prob)>>8
	if bit {
		e.bottom += split
		e.rng -= split
	} else {
		e.rng = split
	}
	for e.rng < 128 {
		e.rng <<= 1
		if e.bottom&(1<<31) != 0 { // carry into the bytes already written
			i := len(e.out) - 1
			for e.out[i] == 255 {
				e.out[i] = 0
				i--
			}
			e.out[i]++
		}
		e.bottom <<= 1
		e.bitCount--
		if e.bitCount == 0 {
			e.out = append(e.out, byte(e.bottom>>24))
			e.bottom &= 1<<24 - 1
			e.bitCount = 8
		}
	}
}

// flush pushes out the last bits, padded with zeros.
func (e *boolEncoder) flush() []byte {
	for range 32 {
		e.write(128, false)
	}
	return e.out
}

// decision is one boolean and its probability of being false.
type decision struct {
	prob uint8
	bit  bool
}

func randomDecisions(r *rand.Rand, n int) []decision {
	ds := make([]decision, n)
	for i := range ds {
		prob := uint8(r.IntN(256))
		ds[i] = decision{prob, r.IntN(256) >= int(prob)}
	}
	return ds
}

func encode(ds []decision) []byte {
	e := newBoolEncoder()
	for _, d := range ds {
		e.write(d.prob, d.bit)
	}
	return e.flush()
}

func TestBoolDecoderReadsWhatWasWritten(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 9, 100, 10000} {
		ds := randomDecisions(r, n)
		var d boolDecoder
		d.init(encode(ds))
		for i, want := range ds {
			if got := d.readBit(want.prob); got != want.bit {
				t.Fatalf("%d decisions: decision %d (prob %d) = %v; want %v", n, i, want.prob, got, want.bit)
			}
		}
		if d.eof {
			t.Errorf("%d decisions: the decoder ran out of data", n)
		}
	}
}

// TestBoolDecoderEndsWhereXImageDoes checks the rule that x/image/vp8's partition.readBit
// follows: a decision fails when the 8-bit window it compares, which starts after the bits that
// normalising the range has shifted out so far, reaches past the end of the data. Decisions
// before that one decode as with the whole data.
func TestBoolDecoderEndsWhereXImageDoes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ds := randomDecisions(r, 400)
	data := encode(ds)

	// shifted[i] is how many bits normalising had shifted out before decision i.
	shifted := make([]int, len(ds))
	var d boolDecoder
	d.init(data)
	for i, dc := range ds {
		shifted[i] = 8*(len(data)-len(d.buf)) - 8 - d.count
		d.readBit(dc.prob)
	}

	for cut := 0; cut <= len(data); cut++ {
		wantEnd := len(ds) // the first decision that must fail
		for i, s := range shifted {
			if s+8 > 8*cut {
				wantEnd = i
				break
			}
		}
		var d boolDecoder
		d.init(data[:cut])
		for i, dc := range ds {
			got := d.readBit(dc.prob)
			if d.eof != (i >= wantEnd) {
				t.Fatalf("first %d bytes of %d: decision %d: eof %v; want it from decision %d", cut, len(data), i, d.eof, wantEnd)
			}
			if i < wantEnd && got != dc.bit {
				t.Fatalf("first %d bytes of %d: decision %d = %v; want %v", cut, len(data), i, got, dc.bit)
			}
		}
	}
}

// TestWrappedRegisterReadsValidData forces the byte-at-a-time register that partitions starting
// with 0xff use onto valid data, where it must decide as the fast decoder does and end at the
// same decision.
func TestWrappedRegisterReadsValidData(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	ds := randomDecisions(r, 2000)
	data := encode(ds)
	for _, cut := range []int{0, 1, 2, 9, len(data) / 2, len(data) - 3, len(data)} {
		var fast, wrapped boolDecoder
		fast.init(data[:cut])
		wrapped.init(data[:cut])
		wrapped.wrapped, wrapped.count = true, -1
		for i, dc := range ds {
			if a, b := fast.readBit(dc.prob), wrapped.readBit(dc.prob); a != b || fast.eof != wrapped.eof {
				t.Fatalf("first %d bytes: decision %d: fast %v (eof %v), wrapped %v (eof %v)", cut, i, a, fast.eof, b, wrapped.eof)
			}
		}
	}
}

func TestBoolDecoderReadsHeaderFields(t *testing.T) {
	e := newBoolEncoder()
	writeLiteral := func(v, n int) {
		for i := n - 1; i >= 0; i-- {
			e.write(128, v>>i&1 == 1)
		}
	}
	writeLiteral(0x5a, 7)
	e.write(128, false) // an absent optional value
	e.write(128, true)  // a present one: 13, negative
	writeLiteral(13, 4)
	e.write(128, true)
	e.write(128, true) // a present one: 9, positive
	writeLiteral(9, 6)
	e.write(128, false)
	for _, bit := range []bool{true, false, true, true, true, true, true, true, true, true} {
		e.write(kfBmodeProbs[0][0][0], bit) // B_TM_PRED is 10, B_HU_PRED 11111111
	}
	var d boolDecoder
	d.init(e.flush())
	if got := d.readLiteral(7); got != 0x5a {
		t.Errorf("readLiteral(7) = %#x; want 0x5a", got)
	}
	for _, c := range []struct {
		n    int
		want int32
	}{{4, 0}, {4, -13}, {6, 9}} {
		if got := d.readOptionalSigned(c.n); got != c.want {
			t.Errorf("readOptionalSigned(%d) = %d; want %d", c.n, got, c.want)
		}
	}
	probs := [9]uint8{kfBmodeProbs[0][0][0], kfBmodeProbs[0][0][0], kfBmodeProbs[0][0][0], kfBmodeProbs[0][0][0],
		kfBmodeProbs[0][0][0], kfBmodeProbs[0][0][0], kfBmodeProbs[0][0][0], kfBmodeProbs[0][0][0], kfBmodeProbs[0][0][0]}
	if got := d.readTree(bmodeTree[:], probs[:]); got != bTM {
		t.Errorf("readTree(bmodeTree) = %d; want B_TM_PRED (%d)", got, bTM)
	}
	if got := d.readTree(bmodeTree[:], probs[:]); got != bHU {
		t.Errorf("readTree(bmodeTree) = %d; want B_HU_PRED (%d)", got, bHU)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestTokenReaderWalksCoeffTree reads tokens from random data both with readTree over the RFC's
// coeff_tree and its extra bits, and with readBlock's hand-written walk, and wants the same
// values and the same decoder state after each.
func TestTokenReaderWalksCoeffTree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(r.IntN(256))
	}
	var byTree, byHand boolDecoder
	byTree.init(data)
	byHand.init(data)
	for i := 0; !byTree.eof; i++ {
		var pr [11]uint8
		for j := range pr {
			pr[j] = uint8(1 + r.IntN(255))
		}
		want := int32(-1) // dctEOB
		switch tok := byTree.readTree(coeffTree[:], pr[:]); {
		case tok <= dct4:
			want = int32(tok)
		case tok <= dctCat6:
			extra := int32(0)
			for _, prob := range catProbs[tok-dctCat1] {
				extra = 2*extra + int32(btoi(byTree.readBit(prob)))
			}
			want = catBase[tok-dctCat1] + extra
		}
		got := int32(-1)
		switch {
		case !byHand.readBit(pr[0]):
		case !byHand.readBit(pr[1]):
			got = 0
		case !byHand.readBit(pr[2]):
			got = 1
		default:
			got = readLarge(&byHand, &pr)
		}
		if got != want || !sameState(&byHand, &byTree) {
			t.Fatalf("token %d: readLarge's walk gives %d, coeff_tree gives %d", i, got, want)
		}
	}
}

func sameState(a, b *boolDecoder) bool {
	return len(a.buf) == len(b.buf) && a.value == b.value && a.count == b.count && a.rng == b.rng && a.eof == b.eof
}

// leaves returns the leaves of a tree in tree_index form, failing on a node reached twice or
// never.
func leaves(t *testing.T, name string, tree []int8) []int {
	t.Helper()
	if len(tree)%2 != 0 {
		t.Fatalf("%s has %d entries; want pairs", name, len(tree))
	}
	reached := make([]bool, len(tree)/2)
	reached[0] = true
	var out []int
	for i, v := range tree {
		if v <= 0 {
			out = append(out, int(-v))
			continue
		}
		if int(v)%2 != 0 || int(v) >= len(tree) || int(v) <= i-i%2 || reached[v/2] {
			t.Fatalf("%s[%d] = %d: not a new node further down", name, i, v)
		}
		reached[v/2] = true
	}
	for n, ok := range reached {
		if !ok {
			t.Fatalf("%s: node %d is never reached", name, 2*n)
		}
	}
	return out
}

func TestTablesAreConsistent(t *testing.T) {
	trees := []struct {
		name   string
		tree   []int8
		values int // the leaves must be 0..values-1, each once
		probs  int
	}{
		{"kfYmodeTree", kfYmodeTree[:], 5, len(kfYmodeProbs)},
		{"uvModeTree", uvModeTree[:], 4, len(kfUVModeProbs)},
		{"bmodeTree", bmodeTree[:], 10, len(kfBmodeProbs[0][0])},
		{"segmentTree", segmentTree[:], 4, 3},
		{"coeffTree", coeffTree[:], numTokens, len(defaultCoeffProbs[0][0][0])},
	}
	for _, tr := range trees {
		ls := leaves(t, tr.name, tr.tree)
		seen := make([]bool, tr.values)
		for _, l := range ls {
			if l >= tr.values || seen[l] {
				t.Errorf("%s: leaf %d out of range or repeated", tr.name, l)
				continue
			}
			seen[l] = true
		}
		if len(ls) != tr.values {
			t.Errorf("%s has %d leaves; want %d", tr.name, len(ls), tr.values)
		}
		if len(tr.tree)/2 != tr.probs {
			t.Errorf("%s has %d nodes and %d probabilities", tr.name, len(tr.tree)/2, tr.probs)
		}
	}

	// The categories' ranges follow one another, from 5 up to 2114 (dct_cat6 has 11 extra bits).
	next := int32(dct4 + 1)
	for i, probs := range catProbs {
		if catBase[i] != next {
			t.Errorf("dct_cat%d starts at %d; want %d", i+1, catBase[i], next)
		}
		next = catBase[i] + 1<<len(probs)
	}
	if next != 2115 {
		t.Errorf("dct_cat6 ends at %d; want 2114", next-1)
	}

	var seen [16]bool
	for _, z := range zigzag {
		seen[z] = true
	}
	if seen != [16]bool{true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true} {
		t.Errorf("zigzag %v is not a permutation of 0..15", zigzag)
	}
	if coeffBands[0] != 0 || coeffBands[15] != 7 {
		t.Errorf("coeffBands %v; want 0 first and 7 last", coeffBands)
	}

	for _, q := range []struct {
		name        string
		table       [128]uint16
		first, last uint16
	}{{"dcQLookup", dcQLookup, 4, 157}, {"acQLookup", acQLookup, 4, 284}} {
		if q.table[0] != q.first || q.table[127] != q.last {
			t.Errorf("%s runs %d..%d; want %d..%d", q.name, q.table[0], q.table[127], q.first, q.last)
		}
		for i := 1; i < 128; i++ {
			if q.table[i] < q.table[i-1] {
				t.Errorf("%s[%d] = %d < %s[%d] = %d", q.name, i, q.table[i], q.name, i-1, q.table[i-1])
			}
		}
	}

	// A probability of 0 would make a branch impossible to code; only the update probabilities
	// may be 255 everywhere (never updated). Known corners of the tables, as printed in the RFC:
	for _, c := range []struct {
		name      string
		got, want uint8
	}{
		{"kf_bmode_prob[0][0][0]", kfBmodeProbs[0][0][0], 231},
		{"kf_bmode_prob[9][9][8]", kfBmodeProbs[9][9][8], 24},
		{"default_coeff_probs[0][1][0][0]", defaultCoeffProbs[0][1][0][0], 253},
		{"default_coeff_probs[3][7][2][10]", defaultCoeffProbs[3][7][2][10], 128},
		{"coeff_update_probs[0][1][0][0]", coeffUpdateProbs[0][1][0][0], 176},
		{"coeff_update_probs[3][7][2][10]", coeffUpdateProbs[3][7][2][10], 255},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d; want %d", c.name, c.got, c.want)
		}
	}
	for i, a := range kfBmodeProbs {
		for j, b := range a {
			for k, p := range b {
				if p == 0 {
					t.Errorf("kfBmodeProbs[%d][%d][%d] = 0", i, j, k)
				}
			}
		}
	}
	for i, a := range defaultCoeffProbs {
		for j, b := range a {
			for k, c := range b {
				for l, p := range c {
					if p == 0 || coeffUpdateProbs[i][j][k][l] == 0 {
						t.Errorf("[%d][%d][%d][%d]: default %d, update %d; want neither 0", i, j, k, l, p, coeffUpdateProbs[i][j][k][l])
					}
				}
			}
		}
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return chunk(t, data)
}

func TestDecodeConfigGivesXImagesSize(t *testing.T) {
	for _, file := range fixtures(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			frame := readFixture(t, filepath.Base(file))
			w, h, err := DecodeConfig(frame)
			if err != nil {
				t.Fatalf("DecodeConfig: %v", err)
			}
			d := xvp8.NewDecoder()
			d.Init(bytes.NewReader(frame), len(frame))
			fh, err := d.DecodeFrameHeader()
			if err != nil {
				t.Fatalf("x/image/vp8: %v", err)
			}
			if w != fh.Width || h != fh.Height {
				t.Errorf("DecodeConfig = %dx%d; want %dx%d (x/image/vp8)", w, h, fh.Width, fh.Height)
			}
		})
	}
}

func TestDecodeConfigRefusesWhatIsNotAKeyFrame(t *testing.T) {
	key := readFixture(t, "cwebp-default.webp")
	inter := bytes.Clone(key)
	inter[0] |= 1
	badCode := bytes.Clone(key)
	badCode[4] = 0x02
	for _, c := range []struct {
		name  string
		frame []byte
		want  func(error) bool
	}{
		{"an empty frame is truncated", nil, isTruncation},
		{"a 2-byte frame is truncated", key[:2], isTruncation},
		{"a 9-byte key frame is truncated", key[:9], isTruncation},
		{"an inter frame is unsupported", inter, isUnsupported},
		{"a bad start code is a format error", badCode, isFormatError},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := DecodeConfig(c.frame); !c.want(err) {
				t.Errorf("DecodeConfig: %v (%T)", err, err)
			}
			if _, _, err := newParser(c.frame); !c.want(err) {
				t.Errorf("newParser: %v (%T)", err, err)
			}
		})
	}
}

func isTruncation(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }

func isUnsupported(err error) bool {
	var u UnsupportedError
	return errors.As(err, &u)
}

func isFormatError(err error) bool {
	var f FormatError
	return errors.As(err, &f)
}

// parseAll parses every macroblock of frame, and returns the parser, the frame's header and how
// many macroblocks were skipped or had the B_PRED mode.
func parseAll(frame []byte) (p *parser, info frameInfo, skipped, bpred int, err error) {
	p, info, err = newParser(frame)
	if err != nil {
		return nil, info, 0, 0, err
	}
	var mb macroblock
	for mby := range info.mbh {
		for mbx := range info.mbw {
			if err := p.parseMB(mbx, mby, &mb); err != nil {
				return p, info, skipped, bpred, err
			}
			skipped += btoi(mb.skip)
			bpred += btoi(mb.ymode == modeB)
		}
	}
	return p, info, skipped, bpred, nil
}

// unread returns how many whole bytes of a partition the decoder has not looked at.
func unread(d *boolDecoder) int {
	return len(d.buf) + max(d.count, 0)/8
}

func TestParserReadsEveryFixture(t *testing.T) {
	// The settings the fixtures were made with (decode_test.go) decide their filter, sharpness
	// and partitions. libvpx writes a key frame's sharpness as 0 whatever it is asked, and chose
	// loop_filter_level 0 for both its fixtures.
	for _, c := range []struct {
		file      string
		filter    int
		sharpness int
		parts     int
	}{
		{"cwebp-17x33.webp", filterNormal, 0, 1},
		{"cwebp-1x1.webp", filterNormal, 0, 1},
		{"cwebp-default.webp", filterNormal, 0, 1},
		{"cwebp-m6-q90.webp", filterNormal, 0, 1},
		{"cwebp-q100-nofilter.webp", filterNone, 0, 1},
		{"cwebp-q5-sharp7.webp", filterNormal, 7, 1},
		{"cwebp-simple-filter.webp", filterSimple, 5, 1},
		{"libvpx-2-partitions-sharp3.webp", filterNone, 0, 2},
		{"libvpx-8-partitions.webp", filterNone, 0, 8},
		{"libvpx-q0.webp", filterNone, 0, 1},
	} {
		t.Run(c.file, func(t *testing.T) {
			frame := readFixture(t, c.file)
			w, h, _ := DecodeConfig(frame)
			p, info, skipped, bpred, err := parseAll(frame)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			want := frameInfo{w, h, (w + 15) / 16, (h + 15) / 16, c.filter, c.sharpness}
			if info != want || p.nparts != c.parts {
				t.Errorf("header %+v with %d partitions; want %+v with %d", info, p.nparts, want, c.parts)
			}
			// An encoder flushes a byte or two after its last boolean.
			if n := unread(&p.first); n > 2 {
				t.Errorf("%d bytes of %d of the first partition left unread", n, len(frame))
			}
			for i := range p.nparts {
				if n := unread(&p.parts[i]); n > 2 {
					t.Errorf("%d bytes of token partition %d left unread", n, i)
				}
			}
			t.Logf("%dx%d, %d macroblocks, %d skipped, %d B_PRED, filter levels %v", w, h, info.mbw*info.mbh, skipped, bpred, p.filterLevel)
		})
	}
}

// TestParserRefusesWhatXImageRefuses cuts every fixture at many lengths: the parser must refuse
// exactly the cuts that x/image/vp8 refuses. (x/image reads a frame whole before it fails, but
// every failure comes from parsing.)
func TestParserRefusesWhatXImageRefuses(t *testing.T) {
	for _, file := range fixtures(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			frame := readFixture(t, filepath.Base(file))
			step := max(1, len(frame)/100)
			for n := 0; n <= len(frame); n += step {
				checkSameRefusal(t, frame[:n], n, len(frame))
			}
			for n := max(0, len(frame)-20); n <= len(frame); n++ {
				checkSameRefusal(t, frame[:n], n, len(frame))
			}
		})
	}
}

func checkSameRefusal(t *testing.T, frame []byte, n, size int) {
	t.Helper()
	_, werr := reference(frame)
	_, _, _, _, gerr := parseAll(frame)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("first %d bytes of %d: parse error %v; x/image/vp8 error %v", n, size, gerr, werr)
	}
	if werr != nil && errors.Is(werr, io.ErrUnexpectedEOF) && !isTruncation(gerr) {
		t.Errorf("first %d bytes of %d: parse error %v; want one wrapping io.ErrUnexpectedEOF as x/image's", n, size, gerr)
	}
}

// FuzzParse: the parser refuses what x/image/vp8 refuses and nothing else, and never panics.
func FuzzParse(f *testing.F) {
	for _, file := range fixtures(f) {
		if frame := readFixture(f, filepath.Base(file)); len(frame) < 4096 {
			f.Add(frame)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if w, h, err := DecodeConfig(frame); err != nil || w*h > 1<<20 {
			return
		}
		checkSameRefusal(t, frame, len(frame), len(frame))
	})
}

func BenchmarkParse(b *testing.B) {
	frame := readFixture(b, "cwebp-m6-q90.webp")
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, _, _, _, err := parseAll(frame); err != nil {
			b.Fatal(err)
		}
	}
}
