package target

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// wireResponse is an smp.target.v1.EchoResponse as the Echo handlers
// answer it: wireCodec writes its payload field by reference, as slices
// of the shared filler or of the echoed request, instead of marshalling a
// copy. A 1 GiB response so costs a few kilobytes of slice headers rather
// than a gigabyte per call and per streamed message.
type wireResponse struct {
	echo   []byte // the payload when echoing
	filler []byte // else size bytes cut from this
	size   int
	budget *byteBudget // takes back len(echo) once it has been written
}

// encode returns the message in protobuf wire format: field 1 (payload,
// bytes), left out when empty as proto3 does.
func (r *wireResponse) encode() mem.BufferSlice {
	if r.size == 0 {
		r.budget.give(int64(len(r.echo)))
		return nil
	}
	hdr := protowire.AppendTag(make([]byte, 0, 16), 1, protowire.BytesType)
	hdr = protowire.AppendVarint(hdr, uint64(r.size))
	out := make(mem.BufferSlice, 0, 1+r.size/max(len(r.filler), 1)+1)
	out = append(out, mem.SliceBuffer(hdr))
	if r.echo != nil {
		if r.budget == nil || mem.IsBelowBufferPoolingThreshold(cap(r.echo)) {
			// Too small for grpc-go to track its release: give it back
			// now, as it is a few hundred bytes at most.
			r.budget.give(int64(len(r.echo)))
			return append(out, mem.SliceBuffer(r.echo))
		}
		// The transport frees the buffer once it has written it.
		return append(out, mem.NewBuffer(&r.echo, budgetRelease{r.budget, int64(len(r.echo))}))
	}
	for left := r.size; left > 0; {
		n := min(left, len(r.filler))
		out = append(out, mem.SliceBuffer(r.filler[:n]))
		left -= n
	}
	return out
}

// budgetRelease is the mem.BufferPool of an echoed payload: putting it
// back gives its bytes back to the budget (the memory goes to the GC).
type budgetRelease struct {
	b *byteBudget
	n int64
}

func (p budgetRelease) Get(length int) *[]byte {
	b := make([]byte, length)
	return &b
}

func (p budgetRelease) Put(*[]byte) { p.b.give(p.n) }

// wireCodec is the gRPC server's codec: protobuf, and wireResponse by
// reference.
type wireCodec struct{ proto encoding.CodecV2 }

func newWireCodec() wireCodec { return wireCodec{proto: encoding.GetCodecV2(proto.Name)} }

func (c wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(*wireResponse); ok {
		return r.encode(), nil
	}
	return c.proto.Marshal(v)
}

func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

func (wireCodec) Name() string { return proto.Name }
