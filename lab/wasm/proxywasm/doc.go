//go:build wasip1

// Package proxywasm is a minimal shim for writing proxy-wasm (ABI 0.2.1)
// HTTP filters in Go for GOOS=wasip1 GOARCH=wasm, built with
// -buildmode=c-shared: it exports the module's callbacks with
// //go:wasmexport and passes them to the Root given to SetRoot, and wraps
// the host calls smp's filters use. It exists so that the repository's
// filters and tests need no SDK; see lab/wasm/ratelimit.
//
// A WebAssembly module is one single-threaded instance with free-function
// exports, so the shim's state (the root, the HTTP contexts, memory handed
// to the host) is package-level by necessity.
package proxywasm
