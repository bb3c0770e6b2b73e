package h2

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/net/http2/hpack"
)

// decoder is an HPACK decoder (RFC 7541) for the responses of a load run.
// x/net's decoder, which this replaced, makes a string of every literal it
// reads; against a server such as nginx, which sends its date, server,
// content-type and content-length as new literals in every response and
// adds each to the dynamic table, that cost several allocations and four
// Huffman decodings a response. This one keeps the dynamic table in
// reused buffers, decodes only the values of the fields the client reads
// (want), skips other values that do not enter the table, and recognises a
// Huffman string it decoded lately by its encoded bytes. x/net's decoder is
// its oracle in tests; Huffman decoding itself is x/net's.
type decoder struct {
	// ring holds the dynamic table, newest entry at ring[head]; n entries
	// are in use. Entries keep their buffers when evicted, so that a table
	// in steady state allocates nothing.
	ring    []entry
	head, n int
	size    int // the table's size in the RFC's terms (lengths + 32 each)
	maxSize int // the current limit, set by the encoder's size updates
	limit   int // the most the encoder may set: the SETTINGS we sent

	maxString int // longest string accepted, encoded or decoded

	memo     [8]memoEntry // recent Huffman decodings, keyed by encoded bytes
	memoNext int

	name, value []byte // scratch for literals that do not enter the table
}

type entry struct{ name, value []byte }

type memoEntry struct{ enc, dec []byte }

// entryOverhead is the 32 octets RFC 7541 section 4.1 adds to each entry.
const entryOverhead = 32

func newDecoder(limit, maxString int) *decoder {
	return &decoder{maxSize: limit, limit: limit, maxString: maxString}
}

// errHPACK is wrapped by every decoding error.
var errHPACK = errors.New("HPACK")

func hpackError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errHPACK, fmt.Sprintf(format, args...))
}

// decode reads one complete header block and calls field for each field
// whose name want accepts, with its value; the byte slices are valid until
// the next call. With want nil every field is passed (tests).
func (d *decoder) decode(block []byte, want func(name []byte) bool, field func(name, value []byte)) error {
	first := true
	for len(block) > 0 {
		b := block[0]
		switch {
		case b&0x80 != 0: // indexed field
			i, rest, err := readInt(block, 7)
			if err != nil {
				return err
			}
			block = rest
			name, value, err := d.at(i)
			if err != nil {
				return err
			}
			if want == nil || want(name) {
				field(name, value)
			}
		case b&0xc0 == 0x40: // literal with incremental indexing
			var err error
			if block, err = d.literal(block, 6, true, want, field); err != nil {
				return err
			}
		case b&0xe0 == 0x20: // dynamic table size update
			// RFC 7541 section 4.2 wants updates at the start of a block;
			// like x/net's decoder, one later is refused only when the
			// table holds something it could change.
			if !first && d.size > 0 {
				return hpackError("dynamic table size update after the first field of a block")
			}
			size, rest, err := readInt(block, 5)
			if err != nil {
				return err
			}
			if size > uint64(d.limit) {
				return hpackError("dynamic table size update to %d, over the %d allowed", size, d.limit)
			}
			block = rest
			d.maxSize = int(size)
			d.evict(0)
			continue // further updates may follow at the start
		default: // literal without indexing (0000) or never indexed (0001)
			var err error
			if block, err = d.literal(block, 4, false, want, field); err != nil {
				return err
			}
		}
		first = false
	}
	return nil
}

// literal reads a literal field whose first octet has an n-bit name index.
func (d *decoder) literal(block []byte, n uint8, index bool, want func([]byte) bool, field func(name, value []byte)) ([]byte, error) {
	i, block, err := readInt(block, n)
	if err != nil {
		return nil, err
	}
	var name []byte
	if i > 0 {
		if name, _, err = d.at(i); err != nil {
			return nil, err
		}
	} else {
		if d.name, block, err = d.readString(d.name[:0], block, true); err != nil {
			return nil, err
		}
		name = d.name
	}
	wanted := want == nil || want(name)
	if !index {
		if d.value, block, err = d.readString(d.value[:0], block, wanted); err != nil {
			return nil, err
		}
		if wanted {
			field(name, d.value)
		}
		return block, nil
	}
	// The entry's buffers are filled before the table makes room, as the
	// name may be an entry that making room evicts.
	e := d.spare()
	e.name = append(e.name[:0], name...)
	if e.value, block, err = d.readString(e.value[:0], block, true); err != nil {
		return nil, err
	}
	d.add(e)
	if wanted {
		field(e.name, e.value)
	}
	return block, nil
}

// readString reads a string literal, appending its decoded bytes to dst
// when decode is set (its length is checked either way).
func (d *decoder) readString(dst, block []byte, decode bool) ([]byte, []byte, error) {
	if len(block) == 0 {
		return nil, nil, hpackError("truncated string")
	}
	huffman := block[0]&0x80 != 0
	n, block, err := readInt(block, 7)
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(len(block)) {
		return nil, nil, hpackError("string of %d bytes with %d left in the block", n, len(block))
	}
	if n > uint64(d.maxString) {
		return nil, nil, hpackError("string of %d bytes, over %d", n, d.maxString)
	}
	s, block := block[:n], block[n:]
	if !decode {
		return dst, block, nil
	}
	if !huffman {
		return append(dst, s...), block, nil
	}
	for i := range d.memo {
		if m := &d.memo[i]; m.enc != nil && bytes.Equal(m.enc, s) {
			return append(dst, m.dec...), block, nil
		}
	}
	w := appender{b: dst}
	if _, err := hpack.HuffmanDecode(&w, s); err != nil {
		return nil, nil, hpackError("%v", err)
	}
	if len(w.b)-len(dst) > d.maxString {
		return nil, nil, hpackError("string of over %d bytes once decoded", d.maxString)
	}
	m := &d.memo[d.memoNext]
	d.memoNext = (d.memoNext + 1) % len(d.memo)
	m.enc = append(m.enc[:0], s...)
	m.dec = append(m.dec[:0], w.b[len(dst):]...)
	return w.b, block, nil
}

// appender is an io.Writer that appends to b.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// at returns the name and value at index i of the combined static and
// dynamic tables (section 2.3.3).
func (d *decoder) at(i uint64) (name, value []byte, err error) {
	switch {
	case i == 0:
		return nil, nil, hpackError("index 0")
	case i <= uint64(len(staticTable)):
		f := &staticTable[i-1]
		return f.name, f.value, nil
	case i-uint64(len(staticTable)) <= uint64(d.n):
		e := &d.ring[(d.head+int(i)-len(staticTable)-1)%len(d.ring)]
		return e.name, e.value, nil
	}
	return nil, nil, hpackError("index %d beyond the %d static and %d dynamic entries", i, len(staticTable), d.n)
}

// spare returns an entry whose buffers may be filled for add: the slot
// that would next be evicted or allocated, outside the live entries.
func (d *decoder) spare() entry {
	if d.n == len(d.ring) {
		d.grow()
	}
	return d.ring[(d.head+len(d.ring)-1)%len(d.ring)]
}

// grow doubles the ring, keeping the entries' order.
func (d *decoder) grow() {
	ring := make([]entry, max(2*len(d.ring), 8))
	for i := range d.n {
		ring[i] = d.ring[(d.head+i)%len(d.ring)]
	}
	// The old ring's buffers beyond the live entries are none: it was full.
	d.ring, d.head = ring, 0
}

// add inserts e (from spare) as the newest entry, evicting the oldest ones
// to make room; an entry larger than the table empties it and is not kept.
func (d *decoder) add(e entry) {
	size := len(e.name) + len(e.value) + entryOverhead
	d.evict(size)
	if size > d.maxSize {
		// Keep the buffers for later, in the slot spare gave.
		d.ring[(d.head+len(d.ring)-1)%len(d.ring)] = e
		return
	}
	d.head = (d.head + len(d.ring) - 1) % len(d.ring)
	d.ring[d.head] = e
	d.n++
	d.size += size
}

// evict drops the oldest entries until room more bytes fit.
func (d *decoder) evict(room int) {
	for d.n > 0 && d.size+room > d.maxSize {
		e := &d.ring[(d.head+d.n-1)%len(d.ring)]
		d.size -= len(e.name) + len(e.value) + entryOverhead
		d.n--
	}
}

// readInt reads an integer with an n-bit prefix (section 5.1).
func readInt(p []byte, n uint8) (uint64, []byte, error) {
	if len(p) == 0 {
		return 0, nil, hpackError("truncated integer")
	}
	mask := uint64(1)<<n - 1
	i := uint64(p[0]) & mask
	p = p[1:]
	if i < mask {
		return i, p, nil
	}
	for shift := uint(0); ; shift += 7 {
		if len(p) == 0 {
			return 0, nil, hpackError("truncated integer")
		}
		if shift > 56 {
			return 0, nil, hpackError("integer too large")
		}
		b := p[0]
		p = p[1:]
		i += uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return i, p, nil
		}
	}
}

type staticField struct{ name, value []byte }

// staticTable is RFC 7541's Appendix A.
var staticTable = [...]staticField{
	{[]byte(":authority"), nil},
	{[]byte(":method"), []byte("GET")},
	{[]byte(":method"), []byte("POST")},
	{[]byte(":path"), []byte("/")},
	{[]byte(":path"), []byte("/index.html")},
	{[]byte(":scheme"), []byte("http")},
	{[]byte(":scheme"), []byte("https")},
	{[]byte(":status"), []byte("200")},
	{[]byte(":status"), []byte("204")},
	{[]byte(":status"), []byte("206")},
	{[]byte(":status"), []byte("304")},
	{[]byte(":status"), []byte("400")},
	{[]byte(":status"), []byte("404")},
	{[]byte(":status"), []byte("500")},
	{[]byte("accept-charset"), nil},
	{[]byte("accept-encoding"), []byte("gzip, deflate")},
	{[]byte("accept-language"), nil},
	{[]byte("accept-ranges"), nil},
	{[]byte("accept"), nil},
	{[]byte("access-control-allow-origin"), nil},
	{[]byte("age"), nil},
	{[]byte("allow"), nil},
	{[]byte("authorization"), nil},
	{[]byte("cache-control"), nil},
	{[]byte("content-disposition"), nil},
	{[]byte("content-encoding"), nil},
	{[]byte("content-language"), nil},
	{[]byte("content-length"), nil},
	{[]byte("content-location"), nil},
	{[]byte("content-range"), nil},
	{[]byte("content-type"), nil},
	{[]byte("cookie"), nil},
	{[]byte("date"), nil},
	{[]byte("etag"), nil},
	{[]byte("expect"), nil},
	{[]byte("expires"), nil},
	{[]byte("from"), nil},
	{[]byte("host"), nil},
	{[]byte("if-match"), nil},
	{[]byte("if-modified-since"), nil},
	{[]byte("if-none-match"), nil},
	{[]byte("if-range"), nil},
	{[]byte("if-unmodified-since"), nil},
	{[]byte("last-modified"), nil},
	{[]byte("link"), nil},
	{[]byte("location"), nil},
	{[]byte("max-forwards"), nil},
	{[]byte("proxy-authenticate"), nil},
	{[]byte("proxy-authorization"), nil},
	{[]byte("range"), nil},
	{[]byte("referer"), nil},
	{[]byte("refresh"), nil},
	{[]byte("retry-after"), nil},
	{[]byte("server"), nil},
	{[]byte("set-cookie"), nil},
	{[]byte("strict-transport-security"), nil},
	{[]byte("transfer-encoding"), nil},
	{[]byte("user-agent"), nil},
	{[]byte("vary"), nil},
	{[]byte("via"), nil},
	{[]byte("www-authenticate"), nil},
}
