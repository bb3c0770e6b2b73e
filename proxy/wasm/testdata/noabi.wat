;; A valid WebAssembly module that is not a proxy-wasm filter: it exports
;; no proxy_abi_version_* function.
(module
  (memory (export "memory") 1)
  (func (export "proxy_on_context_create") (param i32 i32)))
