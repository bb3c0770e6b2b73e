//go:build wasip1

// Package body exports the body callbacks of package proxywasm. A filter
// that reads or rewrites bodies imports it (import _ ".../proxywasm/body");
// one that does not leaves it out, so that the proxy need not buffer
// bodies for it (a host buffers only for modules that export body
// callbacks).
package body

import pw "github.com/smp-project/smp/lab/wasm/proxywasm"

//go:wasmexport proxy_on_request_body
func onRequestBody(id, size, eos uint32) uint32 {
	pw.Enter()
	if c, ok := pw.Context(id).(pw.RequestBodier); ok {
		return c.OnRequestBody(int(size), eos != 0)
	}
	return pw.Continue
}

//go:wasmexport proxy_on_response_body
func onResponseBody(id, size, eos uint32) uint32 {
	pw.Enter()
	if c, ok := pw.Context(id).(pw.ResponseBodier); ok {
		return c.OnResponseBody(int(size), eos != 0)
	}
	return pw.Continue
}
