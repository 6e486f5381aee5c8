package vp8l

import "math/bits"

// The alphabets of a prefix-code group's five codes (RFC 9649, section 6.2.1): green, with the
// 24 backward-reference length codes and the colour cache's indices; red; blue; alpha;
// backward-reference distance.
const (
	numLiterals    = 256
	numLengthCodes = 24
	numDistCodes   = 40
	maxCacheBits   = 11
	maxAlphabet    = numLiterals + numLengthCodes + 1<<maxCacheBits
)

// maxCodeLength is the longest code a prefix code can have: code lengths are the literals 0..15
// of the code-length code.
const maxCodeLength = 15

// rootBits is the most bits a prefix code's first table looks up at once; longer codes are
// found by a loop over their canonical ranges, one length at a time.
const rootBits = 8

// A prefixCode decodes one symbol. Its first table, of 2^tableBits entries (at most 2^rootBits;
// fewer when every code is shorter), is indexed by the next tableBits bits of the stream; an
// entry is symbol<<4 | (length+1) for a code of that length, or 0 for a longer code (or none).
// The codes longer than tableBits are kept by length: those of length l are the first[l] ..
// first[l]+count[l]-1 (read most significant bit first, as they are sent), whose symbols are
// syms[offset[l]:], in the order of their codes. A code of one symbol has no bits: tableBits
// is 0 and its one entry says length 0.
type prefixCode struct {
	table     []uint16
	mask      uint64 // 2^tableBits - 1
	syms      []uint16
	tableBits uint8
	maxLen    uint8
	first     [maxCodeLength + 1]uint16
	count     [maxCodeLength + 1]uint16
	offset    [maxCodeLength + 1]uint16
}

// decode reads one symbol.
func (c *prefixCode) decode(br *bitReader) uint32 {
	if br.n < maxCodeLength {
		br.refillSlow()
	}
	e := c.table[br.val&c.mask]
	n := uint(e&15) - 1
	if n > maxCodeLength {
		return c.decodeLong(br)
	}
	br.val >>= n
	br.n -= n
	return uint32(e >> 4)
}

// decodeLong reads a symbol whose code is longer than tableBits, extending the code one bit at
// a time until it falls in the range of the codes of its length. A code in no range would be
// one an incomplete code leaves unassigned, which build refuses: decodeLong marks br bad and
// returns symbol 0, and the next checkpoint refuses the data.
func (c *prefixCode) decodeLong(br *bitReader) uint32 {
	code := uint32(bits.Reverse16(uint16(br.val&c.mask))) >> (16 - c.tableBits)
	for l := uint(c.tableBits) + 1; l <= uint(c.maxLen); l++ {
		code = code<<1 | uint32(br.val>>(l-1))&1
		if d := code - uint32(c.first[l]); d < uint32(c.count[l]) {
			br.val >>= l
			br.n -= l
			return uint32(c.syms[uint32(c.offset[l])+d])
		}
	}
	br.bad = true
	return 0
}

// errInvalidCode reports code lengths x/image/vp8l cannot build a tree from: no symbol at all,
// an incomplete code, or codes that collide other than by being equal (see codeBuilder.build).
var errInvalidCode = FormatError("invalid prefix code")

// A trieNode is a node of the binary tree that codeBuilder.build grows to check a set of code
// lengths. child is 0 for a node without children yet, -1 for a leaf (of symbol sym), or the
// index of the first of its two children.
type trieNode struct {
	child int32
	sym   uint16
}

const leaf = -1

// A leafCode is one symbol's code, found by walking the tree.
type leafCode struct {
	code uint16 // most significant bit first
	len  uint8
	sym  uint16
}

// A codeBuilder reads prefix codes and builds their tables, with scratch space reused for every
// code and an arena holding the tables.
type codeBuilder struct {
	lengths [maxAlphabet]uint8
	nodes   []trieNode // capacity 2*maxAlphabet-1
	leaves  []leafCode // capacity maxAlphabet
	arena   arena      // the tables of the codes kept

	// clTable holds the table of the code-length code being read, whose codes are at most 7
	// bits long (their lengths have 3 bits).
	clTable [1 << 7]uint16
}

func newCodeBuilder(limit int) *codeBuilder {
	return &codeBuilder{
		nodes:  make([]trieNode, 0, 2*maxAlphabet-1),
		leaves: make([]leafCode, 0, maxAlphabet),
		arena:  arena{limit: limit},
	}
}

// The order in which the code-length code's lengths are sent (section 6.2.1).
var codeLengthOrder = [19]uint8{17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// read reads a prefix code over alphabetSize symbols (section 6.2.1). When keep is false it reads
// the code past without keeping it; when check is also false it does not even build the code
// from its lengths, as x/image does not for a group the meta prefix image never uses, when it
// renumbers the groups. The code-length code is always built, and so checked.
func (cb *codeBuilder) read(br *bitReader, alphabetSize int, keep, check bool) (prefixCode, error) {
	if br.read(1) == 1 { // a simple code: one or two symbols of 1 or 8 bits
		two := br.read(1) == 1
		s0 := br.read(1 + 7*uint(br.read(1)))
		s1 := uint32(0)
		if two {
			s1 = br.read(8)
		}
		if err := br.check(); err != nil {
			return prefixCode{}, err
		}
		if !keep && !check {
			return prefixCode{}, nil
		}
		if int(s0) >= alphabetSize || two && int(s1) >= alphabetSize {
			return prefixCode{}, errInvalidCode
		}
		if !keep {
			return prefixCode{}, nil
		}
		if !two {
			return single(uint16(s0), &cb.arena)
		}
		t, err := cb.arena.alloc(2)
		if err != nil {
			return prefixCode{}, err
		}
		t[0], t[1] = uint16(s0)<<4|2, uint16(s1)<<4|2
		return prefixCode{table: t, mask: 1, tableBits: 1, maxLen: 1}, nil
	}

	// A normal code: the lengths of the code-length code, then the code lengths coded with it.
	var clLengths [19]uint8
	n := 4 + int(br.read(4))
	for i := range n {
		clLengths[codeLengthOrder[i]] = uint8(br.read(3))
	}
	if err := br.check(); err != nil {
		return prefixCode{}, err
	}
	clArena := arena{free: cb.clTable[:], limit: len(cb.clTable)}
	clCode, err := cb.build(clLengths[:], true, &clArena)
	if err != nil {
		return prefixCode{}, err
	}
	maxSymbol := alphabetSize
	if br.read(1) == 1 {
		maxSymbol = 2 + int(br.read(2+2*uint(br.read(3))))
		if maxSymbol > alphabetSize {
			return prefixCode{}, br.fail(FormatError("invalid code lengths"))
		}
	}
	lengths := cb.lengths[:alphabetSize]
	clear(lengths)
	prev := uint8(8) // code 16 before any non-zero length repeats 8
	for s := 0; s < alphabetSize && maxSymbol > 0; maxSymbol-- {
		l := clCode.decode(br)
		if l < 16 {
			lengths[s] = uint8(l)
			s++
			if l != 0 {
				prev = uint8(l)
			}
			continue
		}
		var repeat int
		v := uint8(0)
		switch l {
		case 16:
			repeat, v = 3+int(br.read(2)), prev
		case 17:
			repeat = 3 + int(br.read(3))
		default:
			repeat = 11 + int(br.read(7))
		}
		if s+repeat > alphabetSize {
			return prefixCode{}, br.fail(FormatError("invalid code lengths"))
		}
		for range repeat {
			lengths[s] = v
			s++
		}
	}
	if err := br.check(); err != nil {
		return prefixCode{}, err
	}
	if !check && !keep {
		return prefixCode{}, nil
	}
	return cb.build(lengths, keep, &cb.arena)
}

// single is the code of one symbol, which takes no bits.
func single(sym uint16, a *arena) (prefixCode, error) {
	t, err := a.alloc(1)
	if err != nil {
		return prefixCode{}, err
	}
	t[0] = sym<<4 | 1
	return prefixCode{table: t}, nil
}

// build checks the code lengths (indexed by symbol) and, if keep, builds their code, with its
// tables in a.
//
// The codes are canonical: those of each length are consecutive, in the order of their symbols,
// after all shorter ones (section 6.2.1). To accept exactly what x/image/vp8l accepts, build
// checks them as x/image does, by inserting each code (its low length bits, when the lengths
// over-fill the code space) into a binary tree of at most 2n-1 nodes for n symbols: the lengths
// are refused if a code runs through another's leaf, ends on a node with children, or needs more
// nodes, which an incomplete code always does (a tree with unassigned branches has more than
// 2n-1 nodes); a code equal to one before it takes its place, which happens only when every code
// has one length and there are more than 2^length of them. One symbol of any length is a code of
// no bits. So the tree is complete, and the codes of each length in it are consecutive: the
// tables need no tree.
func (cb *codeBuilder) build(lengths []uint8, keep bool, a *arena) (prefixCode, error) {
	var count [maxCodeLength + 1]int
	n, last := 0, 0
	for s, l := range lengths {
		if l != 0 {
			count[l]++
			n++
			last = s
		}
	}
	if n == 0 {
		return prefixCode{}, errInvalidCode
	}
	if n == 1 {
		if !keep {
			return prefixCode{}, nil
		}
		return single(uint16(last), a)
	}
	var next [maxCodeLength + 1]uint32
	code := uint32(0)
	for l := 1; l <= maxCodeLength; l++ {
		next[l] = code
		code = (code + uint32(count[l])) << 1
	}
	nodes := cb.nodes[: 1 : 2*n-1]
	nodes[0] = trieNode{}
	for s, l := range lengths {
		if l == 0 {
			continue
		}
		c := next[l]
		next[l]++
		i := int32(0)
		for b := int(l) - 1; b >= 0; b-- {
			switch nodes[i].child {
			case leaf:
				return prefixCode{}, errInvalidCode
			case 0:
				if len(nodes) == cap(nodes) {
					return prefixCode{}, errInvalidCode
				}
				nodes[i].child = int32(len(nodes))
				nodes = append(nodes, trieNode{}, trieNode{})
			}
			i = nodes[i].child + int32(c>>uint(b)&1)
		}
		switch nodes[i].child {
		case 0:
			nodes[i].child = leaf
		case leaf:
		default:
			return prefixCode{}, errInvalidCode
		}
		nodes[i].sym = uint16(s)
	}
	if !keep {
		return prefixCode{}, nil
	}
	cb.leaves = collectLeaves(nodes, 0, 0, 0, cb.leaves[:0])
	return table(cb.leaves, a)
}

// collectLeaves appends the leaves under node i (whose code is code, of length depth) to out, in
// the order of their codes.
func collectLeaves(nodes []trieNode, i int32, code uint16, depth uint8, out []leafCode) []leafCode {
	switch c := nodes[i].child; c {
	case leaf:
		return append(out, leafCode{code: code, len: depth, sym: nodes[i].sym})
	case 0:
		return out // unassigned
	default:
		out = collectLeaves(nodes, c, code<<1, depth+1, out)
		return collectLeaves(nodes, c+1, code<<1|1, depth+1, out)
	}
}

// table builds a prefixCode from its leaves, in the order of their codes.
func table(leaves []leafCode, a *arena) (prefixCode, error) {
	var c prefixCode
	for _, lf := range leaves {
		c.maxLen = max(c.maxLen, lf.len)
	}
	c.tableBits = min(c.maxLen, rootBits)
	nLong := 0
	for _, lf := range leaves {
		if lf.len > c.tableBits {
			if c.count[lf.len] == 0 {
				c.first[lf.len] = lf.code
			}
			c.count[lf.len]++
			nLong++
		}
	}
	size := 1 << c.tableBits
	t, err := a.alloc(size + nLong)
	if err != nil {
		return prefixCode{}, err
	}
	c.table, c.syms = t[:size:size], t[size:]
	c.mask = uint64(size - 1)
	off := 0
	for l := c.tableBits + 1; l <= c.maxLen; l++ {
		c.offset[l] = uint16(off)
		off += int(c.count[l])
	}
	for _, lf := range leaves {
		if lf.len <= c.tableBits {
			e := lf.sym<<4 | uint16(lf.len+1)
			step := 1 << lf.len
			for i := int(bits.Reverse16(lf.code) >> (16 - lf.len)); i < size; i += step {
				t[i] = e
			}
			continue
		}
		d := lf.code - c.first[lf.len]
		if d >= c.count[lf.len] {
			// build's tree keeps each length's codes consecutive; this would be a bug.
			return prefixCode{}, FormatError("prefix code with gaps between codes of one length")
		}
		c.syms[int(c.offset[lf.len])+int(d)] = lf.sym
	}
	return c, nil
}

// maxGroupEntries bounds the table entries of one prefix-code group: each code's first table
// has at most 2^rootBits entries, and there is one more entry for each code longer than that.
const maxGroupEntries = 1<<rootBits + maxAlphabet + 3*(1<<rootBits+numLiterals) + 1<<rootBits + numDistCodes

// arenaChunk is how many table entries the arena allocates at a time.
const arenaChunk = 1 << 15

// An arena hands out table space from chunks, so that thousands of small tables cost a few
// allocations, and refuses to hand out more than limit entries in all.
type arena struct {
	free  []uint16
	used  int
	limit int
}

// errTooManyCodes reports prefix codes whose tables would exceed the arena's limit.
var errTooManyCodes = FormatError("prefix codes too large")

func (a *arena) alloc(n int) ([]uint16, error) {
	if a.used+n > a.limit {
		return nil, errTooManyCodes
	}
	a.used += n
	if n > len(a.free) {
		a.free = make([]uint16, max(n, min(arenaChunk, a.limit-a.used+n)))
	}
	t := a.free[:n:n]
	a.free = a.free[n:]
	return t, nil
}
