package h2

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// oracle decodes blocks with x/net's decoder, as the client did before.
type oracle struct {
	dec    *hpack.Decoder
	fields []string
}

func newOracle() *oracle {
	o := &oracle{}
	o.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) { o.fields = append(o.fields, f.Name+": "+f.Value) })
	o.dec.SetMaxStringLength(maxHeaderBlock)
	return o
}

func (o *oracle) decode(block []byte) ([]string, error) {
	o.fields = o.fields[:0]
	if _, err := o.dec.Write(block); err != nil {
		return nil, err
	}
	return o.fields, o.dec.Close()
}

func decodeAll(d *decoder, block []byte) ([]string, error) {
	var fields []string
	err := d.decode(block, nil, func(name, value []byte) { fields = append(fields, string(name)+": "+string(value)) })
	return fields, err
}

// nginxBlock encodes a response the way nginx 1.22 does: :status from the
// static table, then date, server, content-type and content-length as
// Huffman-coded literals with incremental indexing on a static name, every
// response — so the dynamic table fills and evicts all along.
func nginxBlock(date string, length int) []byte {
	var b []byte
	b = append(b, 0x88) // :status 200
	lit := func(index byte, value string) {
		b = append(b, 0x40|index)
		enc := hpack.AppendHuffmanString(nil, value)
		b = appendInt(b, 0x80, 7, uint64(len(enc)))
		b = append(b, enc...)
	}
	lit(33, date)
	lit(54, "nginx/1.22.1")
	lit(31, "text/plain")
	lit(28, fmt.Sprint(length))
	return b
}

// appendInt appends an HPACK integer with an n-bit prefix whose other bits
// are first.
func appendInt(b []byte, first byte, n uint8, i uint64) []byte {
	mask := uint64(1)<<n - 1
	if i < mask {
		return append(b, first|byte(i))
	}
	b = append(b, first|byte(mask))
	i -= mask
	for i >= 0x80 {
		b = append(b, byte(i)|0x80)
		i >>= 7
	}
	return append(b, byte(i))
}

// TestDecoderMatchesXNet encodes random header lists with x/net's encoder
// (literals, indexed fields, never-indexed ones, table size changes,
// eviction) and wants every block decoded as x/net's decoder does.
func TestDecoderMatchesXNet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{":status", "content-type", "content-length", "date", "server", "grpc-status",
		"grpc-message", "x-custom", "set-cookie", "cache-control", "x-" + strings.Repeat("long", 40)}
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	ours, want := newDecoder(4096, maxHeaderBlock), newOracle()
	for block := range 3000 {
		buf.Reset()
		switch rng.IntN(50) {
		case 0:
			enc.SetMaxDynamicTableSize(uint32(rng.IntN(4097)))
		case 1:
			enc.SetMaxDynamicTableSize(0)
			enc.SetMaxDynamicTableSize(4096)
		}
		for range 1 + rng.IntN(8) {
			name := names[rng.IntN(len(names))]
			value := fmt.Sprint(rng.IntN(1000))
			if rng.IntN(4) == 0 {
				value = strings.Repeat("v", rng.IntN(600))
			}
			if err := enc.WriteField(hpack.HeaderField{Name: name, Value: value, Sensitive: rng.IntN(10) == 0}); err != nil {
				t.Fatal(err)
			}
		}
		wf, werr := want.decode(buf.Bytes())
		gf, gerr := decodeAll(ours, buf.Bytes())
		if (werr != nil) != (gerr != nil) || fmt.Sprint(wf) != fmt.Sprint(gf) {
			t.Fatalf("block %d (% x):\nours  %q, %v\nx/net %q, %v", block, buf.Bytes(), gf, gerr, wf, werr)
		}
	}
	if ours.n == 0 {
		t.Fatal("the dynamic table was never used: the test proves nothing about it")
	}
}

// TestDecoderNginx decodes nginx-style responses: the fields the client
// reads, with a table that evicts on every response, against x/net.
func TestDecoderNginx(t *testing.T) {
	ours, want := newDecoder(4096, maxHeaderBlock), newOracle()
	for i := range 500 {
		block := nginxBlock(fmt.Sprintf("Mon, 30 Nov 2026 08:%02d:%02d GMT", i/60%60, i%60), i%7*100)
		wf, werr := want.decode(block)
		var got []string
		err := ours.decode(block, wantField, func(name, value []byte) { got = append(got, string(name)+": "+string(value)) })
		if werr != nil || err != nil {
			t.Fatalf("response %d: ours %v, x/net %v", i, err, werr)
		}
		var wantRead []string
		for _, f := range wf {
			if wantField([]byte(f[:strings.Index(f, ": ")])) {
				wantRead = append(wantRead, f)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(wantRead) {
			t.Fatalf("response %d: read %q, want %q", i, got, wantRead)
		}
		// The table's content, through indexes, must match too: index 62 is
		// the newest entry.
		probe := []byte{0x80 | 62}
		wf, _ = want.decode(probe)
		gf, _ := decodeAll(ours, probe)
		if fmt.Sprint(gf) != fmt.Sprint(wf) {
			t.Fatalf("response %d: newest entry %q, x/net %q", i, gf, wf)
		}
	}
}

// TestDecoderErrors: malformed blocks are refused, as x/net refuses them.
func TestDecoderErrors(t *testing.T) {
	long := appendInt([]byte{0x00}, 0, 7, maxHeaderBlock+1)
	tests := []struct {
		name  string
		block []byte
	}{
		{"index 0", []byte{0x80}},
		{"index past the tables", []byte{0x80 | 70}},
		{"literal name index past the tables", []byte{0x40 | 63, 0x01, 'x'}},
		{"truncated integer", []byte{0xff}},
		{"integer overflow", append([]byte{0xff}, bytes.Repeat([]byte{0xff}, 12)...)},
		{"truncated string", []byte{0x40, 0x05, 'a', 'b'}},
		{"no value", []byte{0x40, 0x01, 'a'}},
		{"string over the limit", long},
		{"bad Huffman padding", []byte{0x00, 0x01, 'a', 0x81, 0x00}},
		{"table size over the limit", appendInt(nil, 0x20, 5, 4097)},
		{"table size update after a field", append(nginxBlock("x", 1), 0x20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := newOracle()
			ours := newDecoder(4096, maxHeaderBlock)
			if strings.HasPrefix(tt.name, "table size update after") {
				// Fill both tables first: an update after a field is
				// refused only when the table is not empty.
				block := nginxBlock("x", 1)
				want.decode(block)
				decodeAll(ours, block)
			}
			_, werr := want.decode(tt.block)
			_, gerr := decodeAll(ours, tt.block)
			if werr == nil {
				t.Fatalf("x/net accepted % x: the case tests nothing", tt.block)
			}
			if gerr == nil {
				t.Errorf("% x accepted; x/net: %v", tt.block, werr)
			}
		})
	}
}

func TestDecoderDoesNotAllocate(t *testing.T) {
	d := newDecoder(4096, maxHeaderBlock)
	blocks := [][]byte{nginxBlock("Mon, 30 Nov 2026 08:00:00 GMT", 5), nginxBlock("Mon, 30 Nov 2026 08:00:01 GMT", 5)}
	var status int
	field := func(name, value []byte) {
		if string(name) == ":status" {
			status, _ = atoi(value)
		}
	}
	for _, b := range blocks { // warm the table and its buffers
		d.decode(b, wantField, field)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		i++
		if err := d.decode(blocks[i%2], wantField, field); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || status != 200 {
		t.Errorf("%.1f allocations per block (status %d), want 0", allocs, status)
	}
}

func BenchmarkDecodeNginx(b *testing.B) {
	blocks := [][]byte{nginxBlock("Mon, 30 Nov 2026 08:00:00 GMT", 5), nginxBlock("Mon, 30 Nov 2026 08:00:01 GMT", 5)}
	b.Run("smp", func(b *testing.B) {
		d := newDecoder(4096, maxHeaderBlock)
		field := func(name, value []byte) {}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			d.decode(blocks[i%2], wantField, field)
		}
	})
	b.Run("x-net", func(b *testing.B) {
		d := hpack.NewDecoder(4096, func(hpack.HeaderField) {})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			d.Write(blocks[i%2])
			d.Close()
		}
	})
}

// FuzzDecoder feeds the same bytes to both decoders: whatever x/net
// accepts, this decoder must accept with the same fields, and the tables
// must stay in step.
func FuzzDecoder(f *testing.F) {
	f.Add(nginxBlock("Mon, 30 Nov 2026 08:00:00 GMT", 5), []byte{0xbe})
	f.Add([]byte{0x3f, 0xe1, 0x1f, 0x82}, []byte{0x40, 0x01, 'a', 0x01, 'b'})
	f.Add([]byte{0x20, 0x88}, []byte{0x10, 0x01, 'x', 0x81, 0xff})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ours, want := newDecoder(4096, 1024), newOracle()
		want.dec.SetMaxStringLength(1024)
		for i, block := range [][]byte{a, b} {
			wf, werr := want.decode(block)
			gf, gerr := decodeAll(ours, block)
			if werr != nil {
				if gerr == nil && !strings.Contains(werr.Error(), "dynamic table size update") {
					t.Fatalf("block %d (% x) accepted; x/net: %v", i, block, werr)
				}
				return // the connection would be closed
			}
			if gerr != nil {
				t.Fatalf("block %d (% x): %v; x/net accepted it: %q", i, block, gerr, wf)
			}
			if fmt.Sprint(gf) != fmt.Sprint(wf) {
				t.Fatalf("block %d (% x):\nours  %q\nx/net %q", i, block, gf, wf)
			}
		}
	})
}
