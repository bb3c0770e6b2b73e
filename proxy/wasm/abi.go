package wasm

import "github.com/tetratelabs/wazero/api"

// Status is a proxy-wasm WasmResult, what every host call returns.
type Status uint32

// The proxy-wasm statuses (the same numbers in ABI 0.1.0 and 0.2.x).
const (
	StatusOK                   Status = 0
	StatusNotFound             Status = 1
	StatusBadArgument          Status = 2
	StatusSerializationFailure Status = 3
	StatusParseFailure         Status = 4
	StatusInvalidMemoryAccess  Status = 6
	StatusEmpty                Status = 7
	StatusCasMismatch          Status = 8
	StatusInternalFailure      Status = 10
	StatusUnimplemented        Status = 12
)

// Header map types.
const (
	mapRequestHeaders   = 0
	mapRequestTrailers  = 1
	mapResponseHeaders  = 2
	mapResponseTrailers = 3
)

// Buffer types.
const (
	bufRequestBody  = 0
	bufResponseBody = 1
	bufVMConfig     = 6
	bufPluginConfig = 7
)

// Log levels, trace (0) to critical (5).
const (
	LogTrace    = 0
	LogDebug    = 1
	LogInfo     = 2
	LogWarn     = 3
	LogError    = 4
	LogCritical = 5
)

// The actions a stream callback returns. Continue is 0; anything else
// (pause, stop-iteration variants) means the same here, since the proxy
// buffers what the filter wants whole and has nothing to wait for.
const actionContinue = 0

// abiVersions are the exports that mark a proxy-wasm module, newest first.
func abiVersions() [3]string {
	return [...]string{"proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0", "proxy_abi_version_0_1_0"}
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// signature is a host function's parameter and result types.
type signature struct {
	params, results []api.ValueType
}

func sig(params ...api.ValueType) signature {
	return signature{params: params, results: []api.ValueType{i32}}
}

func n32(n int) []api.ValueType {
	s := make([]api.ValueType, n)
	for i := range s {
		s[i] = i32
	}
	return s
}

// knownImports lists every host function of proxy-wasm ABI 0.1.0 and 0.2.1
// (and the names the Rust, Go and C++ SDKs of those versions import), with
// the signature they are imported with. A module gets each one it
// imports; those the proxy does not implement answer
// StatusUnimplemented. A call imported with another signature, or not
// listed here, gets a stub of its own signature (see hostModules).
func knownImports() map[string]signature {
	return map[string]signature{
		"proxy_log":                                      sig(n32(3)...),
		"proxy_get_log_level":                            sig(i32),
		"proxy_set_tick_period_milliseconds":             sig(i32),
		"proxy_get_current_time_nanoseconds":             sig(i32),
		"proxy_get_property":                             sig(n32(4)...),
		"proxy_set_property":                             sig(n32(4)...),
		"proxy_get_buffer_bytes":                         sig(n32(5)...),
		"proxy_set_buffer_bytes":                         sig(n32(5)...),
		"proxy_get_buffer_status":                        sig(n32(3)...),
		"proxy_get_configuration":                        sig(n32(2)...),
		"proxy_get_header_map_pairs":                     sig(n32(3)...),
		"proxy_set_header_map_pairs":                     sig(n32(3)...),
		"proxy_get_header_map_value":                     sig(n32(5)...),
		"proxy_add_header_map_value":                     sig(n32(5)...),
		"proxy_replace_header_map_value":                 sig(n32(5)...),
		"proxy_remove_header_map_value":                  sig(n32(3)...),
		"proxy_get_header_map_size":                      sig(n32(2)...),
		"proxy_send_local_response":                      sig(n32(8)...),
		"proxy_get_shared_data":                          sig(n32(5)...),
		"proxy_set_shared_data":                          sig(n32(5)...),
		"proxy_register_shared_queue":                    sig(n32(3)...),
		"proxy_resolve_shared_queue":                     sig(n32(5)...),
		"proxy_dequeue_shared_queue":                     sig(n32(3)...),
		"proxy_enqueue_shared_queue":                     sig(n32(3)...),
		"proxy_continue_request":                         sig(),
		"proxy_continue_response":                        sig(),
		"proxy_continue_stream":                          sig(i32),
		"proxy_close_stream":                             sig(i32),
		"proxy_clear_route_cache":                        sig(),
		"proxy_set_effective_context":                    sig(i32),
		"proxy_done":                                     sig(),
		"proxy_http_call":                                sig(n32(10)...),
		"proxy_dispatch_http_call":                       sig(n32(10)...),
		"proxy_grpc_call":                                sig(n32(12)...),
		"proxy_grpc_stream":                              sig(n32(9)...),
		"proxy_grpc_send":                                sig(n32(4)...),
		"proxy_grpc_cancel":                              sig(i32),
		"proxy_grpc_close":                               sig(i32),
		"proxy_get_status":                               sig(n32(3)...),
		"proxy_call_foreign_function":                    sig(n32(6)...),
		"proxy_define_metric":                            sig(n32(4)...),
		"proxy_increment_metric":                         sig(i32, i64),
		"proxy_record_metric":                            sig(i32, i64),
		"proxy_get_metric":                               sig(n32(2)...),
		"proxy_continue_downstream":                      sig(),
		"proxy_continue_upstream":                        sig(),
		"proxy_close_downstream":                         sig(),
		"proxy_close_upstream":                           sig(),
		"proxy_get_downstream_data_buffer_bytes":         sig(n32(4)...),
		"proxy_get_upstream_data_buffer_bytes":           sig(n32(4)...),
		"proxy_get_request_body_buffer_bytes":            sig(n32(4)...),
		"proxy_get_response_body_buffer_bytes":           sig(n32(4)...),
		"proxy_get_http_call_response_body_buffer_bytes": sig(n32(4)...),
	}
}
