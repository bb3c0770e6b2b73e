package grpc

import (
	"fmt"

	"google.golang.org/grpc/mem"
)

// rawMessage is a request encoded once. Its buffer slice is built once too:
// Marshal hands out the same read-only slice to every call, and freeing a
// SliceBuffer is a no-op, so calls share it without copying.
type rawMessage struct {
	data mem.BufferSlice
}

func newRawMessage(b []byte) rawMessage {
	return rawMessage{data: mem.BufferSlice{mem.SliceBuffer(b)}}
}

// rawReply counts the bytes of the response messages of a call, without
// decoding them: a load generator measures the exchange, not the content.
type rawReply struct {
	bytes int64
}

// rawCodec is bytes in, byte count out. Its name is "proto", so that calls
// carry the content type every gRPC server expects.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, fmt.Errorf("grpc: raw codec cannot marshal %T", v)
	}
	return m.data, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*rawReply)
	if !ok {
		return fmt.Errorf("grpc: raw codec cannot unmarshal into %T", v)
	}
	r.bytes += int64(data.Len())
	return nil
}

func (rawCodec) Name() string { return "proto" }
