package wasm

import (
	"context"
	"encoding/binary"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// hostFunc is an implemented proxy-wasm call: it reads its arguments from
// stack and returns a Status.
type hostFunc func(inst *instance, stack []uint64) Status

// implementations maps the proxy-wasm calls the proxy implements to
// wazero host functions; the rest of knownImports are stubs.
func (p *Plugin) implementations() map[string]api.GoModuleFunc {
	fs := map[string]hostFunc{
		"proxy_log":                          hostLog,
		"proxy_get_log_level":                hostGetLogLevel,
		"proxy_set_tick_period_milliseconds": hostSetTick,
		"proxy_get_current_time_nanoseconds": hostTime,
		"proxy_get_property":                 hostGetProperty,
		"proxy_set_property":                 hostSetProperty,
		"proxy_get_buffer_bytes":             hostGetBuffer,
		"proxy_set_buffer_bytes":             hostSetBuffer,
		"proxy_get_buffer_status":            hostBufferStatus,
		"proxy_get_configuration":            hostGetConfiguration,
		"proxy_get_header_map_pairs":         hostGetMapPairs,
		"proxy_set_header_map_pairs":         hostSetMapPairs,
		"proxy_get_header_map_value":         hostGetMapValue,
		"proxy_add_header_map_value":         hostAddMapValue,
		"proxy_replace_header_map_value":     hostReplaceMapValue,
		"proxy_remove_header_map_value":      hostRemoveMapValue,
		"proxy_get_header_map_size":          hostMapSize,
		"proxy_send_local_response":          hostSendLocalResponse,
		"proxy_get_shared_data":              hostGetShared,
		"proxy_set_shared_data":              hostSetShared,
		// The proxy never pauses a stream (it buffers what a filter
		// wants), so continuing one is done already.
		"proxy_continue_request":      hostOK,
		"proxy_continue_response":     hostOK,
		"proxy_continue_stream":       hostOK,
		"proxy_clear_route_cache":     hostOK,
		"proxy_done":                  hostOK,
		"proxy_set_effective_context": hostSetEffectiveContext,
	}
	out := make(map[string]api.GoModuleFunc, len(fs))
	for name, f := range fs {
		out[name] = func(ctx context.Context, _ api.Module, stack []uint64) {
			inst := instanceFrom(ctx)
			if inst == nil {
				stack[0] = uint64(StatusInternalFailure)
				return
			}
			stack[0] = uint64(f(inst, stack))
		}
	}
	return out
}

func hostOK(*instance, []uint64) Status { return StatusOK }

func u32(v uint64) uint32 { return uint32(v) }

// read returns a copy of size bytes at ptr of the module's memory.
func (inst *instance) read(ptr, size uint32) ([]byte, bool) {
	b, ok := inst.mem.Read(ptr, size)
	if !ok {
		return nil, false
	}
	return slices.Clone(b), true
}

func (inst *instance) readString(ptr, size uint32) (string, bool) {
	b, ok := inst.mem.Read(ptr, size)
	return string(b), ok
}

// give copies data into memory the module allocates and writes its
// address and size to ptrPtr and sizePtr (0 and 0 for no data).
func (inst *instance) give(data []byte, ptrPtr, sizePtr uint32) Status {
	var p uint32
	if len(data) > 0 {
		var err error
		if p, err = inst.alloc(uint32(len(data))); err != nil || p == 0 {
			return StatusInternalFailure
		}
		if !inst.mem.Write(p, data) {
			return StatusInvalidMemoryAccess
		}
	}
	if !inst.mem.WriteUint32Le(ptrPtr, p) || !inst.mem.WriteUint32Le(sizePtr, uint32(len(data))) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func hostLog(inst *instance, s []uint64) Status {
	msg, ok := inst.readString(u32(s[1]), u32(s[2]))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	inst.p.logf(int(int32(s[0])), "%s", msg)
	return StatusOK
}

func hostGetLogLevel(inst *instance, s []uint64) Status {
	if !inst.mem.WriteUint32Le(u32(s[0]), uint32(inst.p.logLevel)) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func hostSetTick(inst *instance, s []uint64) Status {
	inst.setTick(time.Duration(u32(s[0])) * time.Millisecond)
	return StatusOK
}

func hostTime(inst *instance, s []uint64) Status {
	if !inst.mem.WriteUint64Le(u32(s[0]), uint64(time.Now().UnixNano())) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func hostSetEffectiveContext(inst *instance, s []uint64) Status {
	id := u32(s[0])
	if id == rootContextID || (inst.cur != nil && inst.cur.id == id) {
		return StatusOK
	}
	return StatusBadArgument
}

// --- properties

// int64 properties are 8 bytes little-endian, as Envoy gives them.
func le64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

// property answers a property path (segments joined by NUL, e.g.
// "request\x00path").
func (inst *instance) property(path string) ([]byte, bool) {
	if v, ok := inst.props[path]; ok {
		return v, true
	}
	p := inst.p
	switch path {
	case "plugin_root_id":
		return []byte(p.opts.RootID), true
	case "plugin_name":
		return []byte(p.opts.Name), true
	case "plugin_vm_id":
		return []byte(""), true
	}
	st := inst.cur
	if st == nil {
		return nil, false
	}
	x := st.x
	switch strings.ReplaceAll(path, "\x00", ".") {
	case "request.path":
		return []byte(x.Path), true
	case "request.url_path":
		u, _, _ := strings.Cut(x.Path, "?")
		return []byte(u), true
	case "request.query":
		_, q, _ := strings.Cut(x.Path, "?")
		return []byte(q), true
	case "request.host":
		return []byte(x.Authority), true
	case "request.method":
		return []byte(x.Method), true
	case "request.scheme":
		return []byte(x.Scheme), true
	case "request.protocol":
		return []byte(x.Proto), true
	case "request.id":
		if id := x.Header.Get("X-Request-Id"); id != "" {
			return []byte(id), true
		}
		return []byte(strconv.FormatUint(x.ID, 10)), true
	case "request.useragent":
		return []byte(x.Header.Get("User-Agent")), true
	case "request.size":
		return le64(int64(len(x.Body))), x.Buffered
	case "source.address":
		return []byte(x.Client.String()), x.Client.IsValid()
	case "source.port":
		return le64(int64(x.Client.Port())), x.Client.IsValid()
	case "destination.address":
		return []byte(x.Local.String()), x.Local.IsValid()
	case "destination.port":
		return le64(int64(x.Local.Port())), x.Local.IsValid()
	case "response.code":
		return le64(int64(x.Status)), x.Status != 0
	case "response.size":
		return le64(int64(len(x.RespBody))), x.Status != 0 && x.Buffered
	}
	return nil, false
}

func hostGetProperty(inst *instance, s []uint64) Status {
	path, ok := inst.readString(u32(s[0]), u32(s[1]))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	v, found := inst.property(strings.TrimRight(path, "\x00"))
	if !found {
		return StatusNotFound
	}
	return inst.give(v, u32(s[2]), u32(s[3]))
}

func hostSetProperty(inst *instance, s []uint64) Status {
	path, ok := inst.readString(u32(s[0]), u32(s[1]))
	v, ok2 := inst.read(u32(s[2]), u32(s[3]))
	if !ok || !ok2 {
		return StatusInvalidMemoryAccess
	}
	if len(inst.props) >= 1024 {
		return StatusInternalFailure
	}
	inst.props[strings.TrimRight(path, "\x00")] = v
	return StatusOK
}

// --- buffers

// buffer returns a pointer to the buffer of a type, or nil if there is
// none now.
func (inst *instance) buffer(t uint32) *[]byte {
	switch t {
	case bufPluginConfig:
		return &inst.p.opts.Config
	case bufVMConfig:
		return &inst.p.opts.VMConfig
	}
	st := inst.cur
	if st == nil || !st.x.Buffered {
		return nil
	}
	switch t {
	case bufRequestBody:
		return &st.x.Body
	case bufResponseBody:
		if st.respPhase {
			return &st.x.RespBody
		}
	}
	return nil
}

func hostGetBuffer(inst *instance, s []uint64) Status {
	b := inst.buffer(u32(s[0]))
	if b == nil {
		return StatusNotFound
	}
	start, n := int64(u32(s[1])), int64(u32(s[2]))
	buf := *b
	if start > int64(len(buf)) {
		return StatusBadArgument
	}
	end := min(int64(len(buf)), start+n)
	return inst.give(buf[start:end], u32(s[3]), u32(s[4]))
}

// hostSetBuffer replaces bytes [start, start+size) of a body with data
// (both clamped to the body): start 0 and size 0 prepends, a start past
// the end appends, 0 and a large size replaces the whole body, as the
// SDKs' Prepend/Append/Replace helpers call it.
func hostSetBuffer(inst *instance, s []uint64) Status {
	t := u32(s[0])
	if t == bufPluginConfig || t == bufVMConfig {
		return StatusBadArgument
	}
	b := inst.buffer(t)
	if b == nil {
		return StatusNotFound
	}
	data, ok := inst.read(u32(s[3]), u32(s[4]))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	buf := *b
	start := min(int64(u32(s[1])), int64(len(buf)))
	end := min(start+int64(u32(s[2])), int64(len(buf)))
	out := make([]byte, 0, int64(len(buf))-(end-start)+int64(len(data)))
	out = append(append(append(out, buf[:start]...), data...), buf[end:]...)
	*b = out
	return StatusOK
}

func hostBufferStatus(inst *instance, s []uint64) Status {
	b := inst.buffer(u32(s[0]))
	if b == nil {
		return StatusNotFound
	}
	if !inst.mem.WriteUint32Le(u32(s[1]), uint32(len(*b))) || !inst.mem.WriteUint32Le(u32(s[2]), 0) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func hostGetConfiguration(inst *instance, s []uint64) Status {
	return inst.give(inst.p.opts.Config, u32(s[0]), u32(s[1]))
}

// --- header maps

// headerMap is a header map of the current stream: its net/http header and
// the pseudo-headers kept as fields of the exchange.
type headerMap struct {
	h        http.Header
	st       *stream
	response bool
}

func (inst *instance) headerMap(t uint32) (headerMap, Status) {
	st := inst.cur
	if st == nil {
		return headerMap{}, StatusNotFound
	}
	switch t {
	case mapRequestHeaders:
		return headerMap{h: st.x.Header, st: st}, StatusOK
	case mapResponseHeaders:
		if !st.respPhase {
			return headerMap{}, StatusNotFound
		}
		return headerMap{h: st.x.RespHeader, st: st, response: true}, StatusOK
	case mapRequestTrailers, mapResponseTrailers:
		// No trailers are forwarded: an empty map.
		return headerMap{h: http.Header{}}, StatusOK
	}
	return headerMap{}, StatusBadArgument
}

// pseudo returns the pseudo-header names of the map, in the order HTTP/2
// sends them.
func (m headerMap) pseudo() []string {
	if m.st == nil {
		return nil
	}
	if m.response {
		return []string{":status"}
	}
	return []string{":authority", ":path", ":method", ":scheme"}
}

func (m headerMap) getPseudo(name string) (string, bool) {
	if m.st == nil {
		return "", false
	}
	x := m.st.x
	switch {
	case m.response && name == ":status":
		return strconv.Itoa(x.Status), true
	case m.response:
		return "", false
	case name == ":authority":
		return x.Authority, true
	case name == ":path":
		return x.Path, true
	case name == ":method":
		return x.Method, true
	case name == ":scheme":
		return x.Scheme, true
	}
	return "", false
}

// setPseudo changes a pseudo-header; only the request's :path, :method and
// :authority and the response's :status can change (:scheme may be set to
// what it is).
func (m headerMap) setPseudo(name, v string) Status {
	if m.st == nil {
		return StatusBadArgument
	}
	x := m.st.x
	switch {
	case m.response && name == ":status":
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 999 {
			return StatusBadArgument
		}
		x.Status = n
	case !m.response && name == ":path" && strings.HasPrefix(v, "/"):
		x.Path = v
	case !m.response && name == ":method" && v != "":
		x.Method = v
	case !m.response && name == ":authority" && v != "":
		x.Authority = v
	case !m.response && name == ":scheme" && v == x.Scheme:
		// Unchanged, as when a filter sets back the pairs it read.
	default:
		return StatusBadArgument
	}
	return StatusOK
}

// pairs lists the map: pseudo-headers, then headers by name, names in
// lower case as HTTP/2 has them.
func (m headerMap) pairs() [][2]string {
	var out [][2]string
	for _, k := range m.pseudo() {
		v, _ := m.getPseudo(k)
		out = append(out, [2]string{k, v})
	}
	keys := make([]string, 0, len(m.h))
	for k := range m.h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		for _, v := range m.h[k] {
			out = append(out, [2]string{lk, v})
		}
	}
	return out
}

// encodePairs is the proxy-wasm map encoding: the pair count, then each
// pair's key and value sizes, then each key and value followed by a NUL
// (all numbers u32 little-endian).
func encodePairs(ps [][2]string) []byte {
	n := 4 + 8*len(ps)
	for _, p := range ps {
		n += len(p[0]) + len(p[1]) + 2
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ps)))
	for _, p := range ps {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[1])))
	}
	for _, p := range ps {
		b = append(append(append(append(b, p[0]...), 0), p[1]...), 0)
	}
	return b
}

// decodePairs reads encodePairs' format, checking every size against the
// data.
func decodePairs(b []byte) ([][2]string, bool) {
	if len(b) < 4 {
		return nil, len(b) == 0
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < 0 || n > (len(b)-4)/8 {
		return nil, false
	}
	sizes := b[4 : 4+8*n]
	data := b[4+8*n:]
	out := make([][2]string, 0, n)
	for i := range n {
		kl := int(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := int(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if kl < 0 || vl < 0 || kl+vl+2 > len(data) || kl+vl+2 < 0 {
			return nil, false
		}
		k := string(data[:kl])
		v := string(data[kl+1 : kl+1+vl])
		data = data[kl+vl+2:]
		out = append(out, [2]string{k, v})
	}
	return out, true
}

// validHeader refuses what would make an invalid or smuggled header.
func validHeader(k, v string) bool {
	return k != "" && !strings.ContainsAny(k, " \t\r\n\x00:") && !strings.ContainsAny(v, "\r\n\x00")
}

func hostGetMapPairs(inst *instance, s []uint64) Status {
	m, st := inst.headerMap(u32(s[0]))
	if st != StatusOK {
		return st
	}
	return inst.give(encodePairs(m.pairs()), u32(s[1]), u32(s[2]))
}

func hostMapSize(inst *instance, s []uint64) Status {
	m, st := inst.headerMap(u32(s[0]))
	if st != StatusOK {
		return st
	}
	if !inst.mem.WriteUint32Le(u32(s[1]), uint32(len(encodePairs(m.pairs())))) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func hostSetMapPairs(inst *instance, s []uint64) Status {
	m, st := inst.headerMap(u32(s[0]))
	if st != StatusOK {
		return st
	}
	b, ok := inst.read(u32(s[1]), u32(s[2]))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	ps, ok := decodePairs(b)
	if !ok {
		return StatusParseFailure
	}
	for _, p := range ps {
		if !strings.HasPrefix(p[0], ":") && !validHeader(p[0], p[1]) {
			return StatusBadArgument
		}
	}
	clear(m.h)
	for _, p := range ps {
		if strings.HasPrefix(p[0], ":") {
			if st := m.setPseudo(p[0], p[1]); st != StatusOK {
				return st
			}
			continue
		}
		m.h.Add(p[0], p[1])
	}
	return StatusOK
}

func (inst *instance) mapKey(s []uint64) (headerMap, string, Status) {
	m, st := inst.headerMap(u32(s[0]))
	if st != StatusOK {
		return m, "", st
	}
	k, ok := inst.readString(u32(s[1]), u32(s[2]))
	if !ok {
		return m, "", StatusInvalidMemoryAccess
	}
	return m, k, StatusOK
}

func hostGetMapValue(inst *instance, s []uint64) Status {
	m, k, st := inst.mapKey(s)
	if st != StatusOK {
		return st
	}
	var v string
	var found bool
	if strings.HasPrefix(k, ":") {
		v, found = m.getPseudo(k)
	} else if vs := m.h.Values(k); len(vs) > 0 {
		// Several fields of one name read as one, comma-joined (RFC 9110
		// 5.3).
		v, found = strings.Join(vs, ","), true
	}
	if !found {
		return StatusNotFound
	}
	return inst.give([]byte(v), u32(s[3]), u32(s[4]))
}

func (inst *instance) mapKeyValue(s []uint64) (headerMap, string, string, Status) {
	m, k, st := inst.mapKey(s)
	if st != StatusOK {
		return m, "", "", st
	}
	v, ok := inst.readString(u32(s[3]), u32(s[4]))
	if !ok {
		return m, "", "", StatusInvalidMemoryAccess
	}
	if !strings.HasPrefix(k, ":") && !validHeader(k, v) {
		return m, "", "", StatusBadArgument
	}
	return m, k, v, StatusOK
}

func hostAddMapValue(inst *instance, s []uint64) Status {
	m, k, v, st := inst.mapKeyValue(s)
	if st != StatusOK {
		return st
	}
	if strings.HasPrefix(k, ":") {
		return m.setPseudo(k, v)
	}
	m.h.Add(k, v)
	return StatusOK
}

func hostReplaceMapValue(inst *instance, s []uint64) Status {
	m, k, v, st := inst.mapKeyValue(s)
	if st != StatusOK {
		return st
	}
	if strings.HasPrefix(k, ":") {
		return m.setPseudo(k, v)
	}
	m.h.Set(k, v)
	return StatusOK
}

func hostRemoveMapValue(inst *instance, s []uint64) Status {
	m, k, st := inst.mapKey(s)
	if st != StatusOK {
		return st
	}
	if strings.HasPrefix(k, ":") {
		return StatusBadArgument
	}
	m.h.Del(k)
	return StatusOK
}

// --- local response

func hostSendLocalResponse(inst *instance, s []uint64) Status {
	st := inst.cur
	if st == nil {
		return StatusNotFound
	}
	status := int(u32(s[0]))
	if status < 200 || status > 599 {
		return StatusBadArgument
	}
	details, ok1 := inst.readString(u32(s[1]), u32(s[2]))
	body, ok2 := inst.read(u32(s[3]), u32(s[4]))
	hb, ok3 := inst.read(u32(s[5]), u32(s[6]))
	if !ok1 || !ok2 || !ok3 {
		return StatusInvalidMemoryAccess
	}
	ps, ok := decodePairs(hb)
	if !ok {
		return StatusParseFailure
	}
	h := http.Header{}
	for _, p := range ps {
		if !validHeader(p[0], p[1]) {
			return StatusBadArgument
		}
		h.Add(p[0], p[1])
	}
	if details != "" && h.Get("X-Smp-Local-Reply") == "" {
		h.Set("X-Smp-Local-Reply", inst.p.opts.Name+": "+strings.Map(printable, details))
	}
	st.x.Respond(status, h, body)
	return StatusOK
}

func printable(r rune) rune {
	if r < 32 || r == 127 {
		return -1
	}
	return r
}

// --- shared data

func hostGetShared(inst *instance, s []uint64) Status {
	k, ok := inst.readString(u32(s[0]), u32(s[1]))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	v, cas, found := inst.p.shared.Get(k)
	if !found {
		return StatusNotFound
	}
	if st := inst.give(v, u32(s[2]), u32(s[3])); st != StatusOK {
		return st
	}
	if !inst.mem.WriteUint32Le(u32(s[4]), cas) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func hostSetShared(inst *instance, s []uint64) Status {
	k, ok := inst.readString(u32(s[0]), u32(s[1]))
	v, ok2 := inst.read(u32(s[2]), u32(s[3]))
	if !ok || !ok2 {
		return StatusInvalidMemoryAccess
	}
	return inst.p.shared.Set(k, v, u32(s[4]))
}
