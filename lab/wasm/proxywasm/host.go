//go:build wasip1

package proxywasm

import (
	"encoding/binary"
	"unsafe"
)

// Status is a host call's result (0 OK, 1 not found, 8 CAS mismatch, 12
// unimplemented, ...).
type Status = uint32

// Map and buffer types, log levels.
const (
	RequestHeaders  = 0
	ResponseHeaders = 2
	RequestBody     = 0
	ResponseBody    = 1
	PluginConfig    = 7
	LogDebug        = 1
	LogInfo         = 2
	LogWarn         = 3
	LogError        = 4
	StatusOK        = 0
	StatusNotFound  = 1
	StatusCas       = 8
)

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_log_level
func proxyGetLogLevel(ret unsafe.Pointer) uint32

//go:wasmimport env proxy_get_current_time_nanoseconds
func proxyGetTime(ret unsafe.Pointer) uint32

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTick(ms uint32) uint32

//go:wasmimport env proxy_get_property
func proxyGetProperty(path unsafe.Pointer, size uint32, retPtr, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_set_property
func proxySetProperty(path unsafe.Pointer, size uint32, v unsafe.Pointer, vsize uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBuffer(t, start, max uint32, retPtr, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_set_buffer_bytes
func proxySetBuffer(t, start, size uint32, data unsafe.Pointer, dsize uint32) uint32

//go:wasmimport env proxy_get_buffer_status
func proxyGetBufferStatus(t uint32, length, flags unsafe.Pointer) uint32

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetMapPairs(t uint32, retPtr, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_set_header_map_pairs
func proxySetMapPairs(t uint32, data unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_header_map_size
func proxyGetMapSize(t uint32, ret unsafe.Pointer) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetMapValue(t uint32, k unsafe.Pointer, ks uint32, retPtr, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_add_header_map_value
func proxyAddMapValue(t uint32, k unsafe.Pointer, ks uint32, v unsafe.Pointer, vs uint32) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceMapValue(t uint32, k unsafe.Pointer, ks uint32, v unsafe.Pointer, vs uint32) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveMapValue(t uint32, k unsafe.Pointer, ks uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(status uint32, d unsafe.Pointer, ds uint32, b unsafe.Pointer, bs uint32, h unsafe.Pointer, hs uint32, grpc int32) uint32

//go:wasmimport env proxy_get_shared_data
func proxyGetShared(k unsafe.Pointer, ks uint32, retPtr, retSize, cas unsafe.Pointer) uint32

//go:wasmimport env proxy_set_shared_data
func proxySetShared(k unsafe.Pointer, ks uint32, v unsafe.Pointer, vs uint32, cas uint32) uint32

//go:wasmimport env proxy_continue_stream
func proxyContinueStream(t uint32) uint32

// Return slots the host writes into. Globals, not locals: the host may
// call back into the module (to allocate) while it holds their address,
// and a goroutine stack may move then; globals do not.
var retPtr, retSize, retCas uint32
var retU64 uint64

func sptr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

func bptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// returned is what the host returned in retPtr/retSize: memory the host
// asked proxy_on_memory_allocate for, found among the pinned allocations
// by its address (so no integer becomes a pointer).
func returned() []byte {
	if retSize == 0 {
		return nil
	}
	for _, b := range pinned {
		if uint32(uintptr(unsafe.Pointer(&b[0]))) == retPtr && int(retSize) <= len(b) {
			return b[:retSize]
		}
	}
	return nil
}

// Log writes a line at a level.
func Log(level uint32, msg string) { proxyLog(level, sptr(msg), uint32(len(msg))) }

// LogLevel is the host's log level.
func LogLevel() (uint32, Status) {
	st := proxyGetLogLevel(unsafe.Pointer(&retCas))
	return retCas, st
}

// Now is the host's wall clock, Unix nanoseconds.
func Now() int64 {
	proxyGetTime(unsafe.Pointer(&retU64))
	return int64(retU64)
}

// SetTickPeriod asks for OnTick every ms milliseconds (0 stops).
func SetTickPeriod(ms uint32) Status { return proxySetTick(ms) }

// Property reads a property by its path segments.
func Property(path ...string) ([]byte, Status) {
	p := joinPath(path)
	st := proxyGetProperty(sptr(p), uint32(len(p)), unsafe.Pointer(&retPtr), unsafe.Pointer(&retSize))
	if st != StatusOK {
		return nil, st
	}
	return returned(), st
}

// SetProperty stores a property.
func SetProperty(v []byte, path ...string) Status {
	p := joinPath(path)
	return proxySetProperty(sptr(p), uint32(len(p)), bptr(v), uint32(len(v)))
}

func joinPath(path []string) string {
	var b []byte
	for i, s := range path {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, s...)
	}
	return string(b)
}

// Buffer reads [start, start+max) of a buffer.
func Buffer(t, start, max uint32) ([]byte, Status) {
	st := proxyGetBuffer(t, start, max, unsafe.Pointer(&retPtr), unsafe.Pointer(&retSize))
	if st != StatusOK {
		return nil, st
	}
	return returned(), st
}

// SetBuffer replaces [start, start+size) of a buffer with data.
func SetBuffer(t, start, size uint32, data []byte) Status {
	return proxySetBuffer(t, start, size, bptr(data), uint32(len(data)))
}

// BufferStatus returns a buffer's length.
func BufferStatus(t uint32) (uint32, Status) {
	st := proxyGetBufferStatus(t, unsafe.Pointer(&retSize), unsafe.Pointer(&retCas))
	return retSize, st
}

// Headers returns a header map's pairs.
func Headers(t uint32) ([][2]string, Status) {
	st := proxyGetMapPairs(t, unsafe.Pointer(&retPtr), unsafe.Pointer(&retSize))
	if st != StatusOK {
		return nil, st
	}
	return DecodePairs(returned()), st
}

// HeadersSize is the size of a header map's encoding.
func HeadersSize(t uint32) (uint32, Status) {
	st := proxyGetMapSize(t, unsafe.Pointer(&retSize))
	return retSize, st
}

// SetHeaders replaces a header map.
func SetHeaders(t uint32, ps [][2]string) Status {
	b := EncodePairs(ps)
	return proxySetMapPairs(t, bptr(b), uint32(len(b)))
}

// Header reads one header.
func Header(t uint32, k string) (string, Status) {
	st := proxyGetMapValue(t, sptr(k), uint32(len(k)), unsafe.Pointer(&retPtr), unsafe.Pointer(&retSize))
	if st != StatusOK {
		return "", st
	}
	return string(returned()), st
}

// AddHeader, ReplaceHeader and RemoveHeader change one header.
func AddHeader(t uint32, k, v string) Status {
	return proxyAddMapValue(t, sptr(k), uint32(len(k)), sptr(v), uint32(len(v)))
}

func ReplaceHeader(t uint32, k, v string) Status {
	return proxyReplaceMapValue(t, sptr(k), uint32(len(k)), sptr(v), uint32(len(v)))
}

func RemoveHeader(t uint32, k string) Status {
	return proxyRemoveMapValue(t, sptr(k), uint32(len(k)))
}

// SendLocalResponse answers the exchange from the filter.
func SendLocalResponse(status uint32, details string, body []byte, headers [][2]string) Status {
	h := EncodePairs(headers)
	return proxySendLocalResponse(status, sptr(details), uint32(len(details)), bptr(body), uint32(len(body)), bptr(h), uint32(len(h)), -1)
}

// SharedData reads a shared key: value, CAS number, status.
func SharedData(k string) ([]byte, uint32, Status) {
	st := proxyGetShared(sptr(k), uint32(len(k)), unsafe.Pointer(&retPtr), unsafe.Pointer(&retSize), unsafe.Pointer(&retCas))
	if st != StatusOK {
		return nil, 0, st
	}
	return returned(), retCas, st
}

// SetSharedData stores a shared key if its CAS number is still cas (0:
// unconditionally).
func SetSharedData(k string, v []byte, cas uint32) Status {
	return proxySetShared(sptr(k), uint32(len(k)), bptr(v), uint32(len(v)), cas)
}

// ContinueStream resumes a paused stream (0 request, 1 response).
func ContinueStream(t uint32) Status { return proxyContinueStream(t) }

// EncodePairs and DecodePairs are the proxy-wasm header map encoding.
func EncodePairs(ps [][2]string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(ps)))
	for _, p := range ps {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[1])))
	}
	for _, p := range ps {
		b = append(append(append(append(b, p[0]...), 0), p[1]...), 0)
	}
	return b
}

func DecodePairs(b []byte) [][2]string {
	if len(b) < 4 {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > (len(b)-4)/8 {
		return nil
	}
	sizes, data := b[4:4+8*n], b[4+8*n:]
	out := make([][2]string, 0, n)
	for i := range n {
		kl := int(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := int(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if kl+vl+2 > len(data) {
			return out
		}
		out = append(out, [2]string{string(data[:kl]), string(data[kl+1 : kl+1+vl])})
		data = data[kl+vl+2:]
	}
	return out
}
