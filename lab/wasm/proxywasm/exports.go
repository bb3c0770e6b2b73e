//go:build wasip1

package proxywasm

import "unsafe"

// Action is what a stream callback returns: Continue, or Pause.
type Action = uint32

const (
	Continue Action = 0
	Pause    Action = 1
)

// Root is the plugin's root context. It may also implement
// OnVMStart(vmConfigSize int) bool, OnConfigure(configSize int) bool and
// OnTick().
type Root interface {
	// NewHTTPContext returns the context of one exchange.
	NewHTTPContext(id uint32) HTTPContext
}

// HTTPContext is one exchange. It may implement any of the On* methods of
// the interfaces below; those it lacks continue.
type HTTPContext any

type (
	vmStarter       interface{ OnVMStart(size int) bool }
	configurer      interface{ OnConfigure(size int) bool }
	ticker          interface{ OnTick() }
	requestHeaderer interface{ OnRequestHeaders(n int, eos bool) Action }
	requestBodier   interface {
		OnRequestBody(size int, eos bool) Action
	}
	responseHeaderer interface{ OnResponseHeaders(n int, eos bool) Action }
	responseBodier   interface {
		OnResponseBody(size int, eos bool) Action
	}
	doner   interface{ OnDone() bool }
	logger  interface{ OnLog() }
	deleter interface{ OnDelete() }
)

var (
	root     Root
	contexts = map[uint32]HTTPContext{}
	// pinned keeps memory handed to the host reachable until the next
	// callback: the host writes into it and the guest reads it within the
	// callback that asked.
	pinned [][]byte
)

// SetRoot installs the plugin; call it from an init function.
func SetRoot(r Root) { root = r }

func enter() { pinned = pinned[:0] }

// Enter starts a callback exported by another package (body); Context
// returns an exchange's context.
func Enter()                        { enter() }
func Context(id uint32) HTTPContext { return contexts[id] }

// RequestBodier and ResponseBodier are the body callbacks, served when
// the module imports package body.
type (
	RequestBodier interface {
		OnRequestBody(size int, eos bool) Action
	}
	ResponseBodier interface {
		OnResponseBody(size int, eos bool) Action
	}
)

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	b := make([]byte, size)
	pinned = append(pinned, b)
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

//go:wasmexport proxy_on_context_create
func onContextCreate(id, parent uint32) {
	enter()
	if parent != 0 && root != nil {
		contexts[id] = root.NewHTTPContext(id)
	}
}

//go:wasmexport proxy_on_vm_start
func onVMStart(_, size uint32) uint32 {
	enter()
	if s, ok := root.(vmStarter); ok {
		return b2u(s.OnVMStart(int(size)))
	}
	return 1
}

//go:wasmexport proxy_on_configure
func onConfigure(_, size uint32) uint32 {
	enter()
	if c, ok := root.(configurer); ok {
		return b2u(c.OnConfigure(int(size)))
	}
	return 1
}

//go:wasmexport proxy_on_tick
func onTick(uint32) {
	enter()
	if t, ok := root.(ticker); ok {
		t.OnTick()
	}
}

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(id, n, eos uint32) uint32 {
	enter()
	if c, ok := contexts[id].(requestHeaderer); ok {
		return c.OnRequestHeaders(int(n), eos != 0)
	}
	return Continue
}

//go:wasmexport proxy_on_response_headers
func onResponseHeaders(id, n, eos uint32) uint32 {
	enter()
	if c, ok := contexts[id].(responseHeaderer); ok {
		return c.OnResponseHeaders(int(n), eos != 0)
	}
	return Continue
}

//go:wasmexport proxy_on_done
func onDone(id uint32) uint32 {
	enter()
	if c, ok := contexts[id].(doner); ok {
		return b2u(c.OnDone())
	}
	return 1
}

//go:wasmexport proxy_on_log
func onLog(id uint32) {
	enter()
	if c, ok := contexts[id].(logger); ok {
		c.OnLog()
	}
}

//go:wasmexport proxy_on_delete
func onDelete(id uint32) {
	enter()
	if c, ok := contexts[id].(deleter); ok {
		c.OnDelete()
	}
	delete(contexts, id)
}
