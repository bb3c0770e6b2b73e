// Package wasm runs proxy-wasm filters (ABI 0.1.0 and 0.2.x, as the Rust,
// Go and C++ SDKs build them) on wazero, as filters of smp proxy: the VM
// and plugin lifecycle, root and HTTP contexts, header maps, buffered
// bodies, local responses, shared data, properties, time, ticks and logs,
// and WASI preview 1. Every import a module declares is satisfied; calls
// the proxy does not implement answer "unimplemented".
package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Options configures one plugin (one --wasm).
type Options struct {
	// Path is the .wasm file.
	Path string
	// Name is the filter's name in stats, e.g. "wasm#2:ratelimit.wasm".
	Name string
	// Config is the plugin configuration (proxy_on_configure reads it).
	Config []byte
	// VMConfig is the VM configuration (proxy_on_vm_start).
	VMConfig []byte
	// RootID is the plugin's root id (the plugin_root_id property).
	RootID string
	// Instances is how many VMs serve requests at once (0: 1). Each has its
	// own root context; state they share must go through shared data.
	Instances int
	// LogLevel is the lowest proxy_log level written (0 trace .. 5
	// critical; default info).
	LogLevel *int
	// Log receives the module's log lines and its stdout and stderr
	// (nil: os.Stderr).
	Log io.Writer
	// Shared is the shared-data store; plugins given the same one share
	// keys (nil: a store of this plugin's own).
	Shared *SharedData
	// Cache holds compiled modules across loads (nil: none). Compiling a
	// Go-built module takes seconds; tests and several --wasm of one file
	// share it. Loads that share a cache must agree on whether CallTimeout
	// is set: wazero's cache does not tell code compiled with termination
	// checks from code compiled without.
	Cache wazero.CompilationCache
	// CallTimeout, when positive, is the longest a call into the module
	// may run: a call still running then is stopped, fails like a trap
	// (that request 500, the VM replaced) and says why. Zero means no
	// limit, a module that loops forever holding its VM, because the
	// check costs wazero a goroutine per call (BenchmarkRateLimit).
	CallTimeout time.Duration
}

// LoadError is a module refused at start: unreadable, malformed, not a
// proxy-wasm module, or failing its start or configuration.
type LoadError struct {
	Path string
	Err  error
}

func (e *LoadError) Error() string { return fmt.Sprintf("wasm module %s: %v", e.Path, e.Err) }
func (e *LoadError) Unwrap() error { return e.Err }

// ErrTrap wraps a module's failure during a request (a trap, a panic, an
// exit): the request is answered 500 and the VM replaced.
var ErrTrap = errors.New("wasm module trapped")

// Plugin is a loaded module: a compiled module and a pool of VMs.
type Plugin struct {
	opts     Options
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	version  string
	// needsBody: the module exports a body callback.
	needsBody bool
	logLevel  int
	log       io.Writer
	logMu     sync.Mutex
	shared    *SharedData

	slots   []*slot
	next    atomic.Uint64
	modSeq  atomic.Uint64
	closing atomic.Bool

	// Counters for Stats.
	restarts, traps, logLines, unimplemented, lostContexts atomic.Int64
}

// slot holds one VM at a time; a trapped VM is replaced in its slot.
type slot struct {
	mu   sync.Mutex
	inst *instance // nil after a trap until the next request rebuilds it
}

// Load reads, compiles and starts a module (Options.Instances VMs, each
// through _initialize, proxy_on_vm_start and proxy_on_configure). Every
// failure is a *LoadError.
func Load(ctx context.Context, opts Options) (*Plugin, error) {
	lerr := func(err error) error { return &LoadError{Path: opts.Path, Err: err} }
	code, err := os.ReadFile(opts.Path)
	if err != nil {
		return nil, lerr(err)
	}
	if opts.Name == "" {
		opts.Name = "wasm:" + filepath.Base(opts.Path)
	}
	if opts.Instances <= 0 {
		opts.Instances = 1
	}
	p := &Plugin{opts: opts, logLevel: LogInfo, log: opts.Log, shared: opts.Shared}
	if opts.LogLevel != nil {
		p.logLevel = *opts.LogLevel
	}
	if p.log == nil {
		p.log = os.Stderr
	}
	if p.shared == nil {
		p.shared = NewSharedData()
	}
	// Without CallTimeout a call runs until it returns: a module that
	// loops forever holds its VM (and the requests waiting for it) until
	// Close.
	rc := wazero.NewRuntimeConfig()
	if opts.CallTimeout > 0 {
		rc = rc.WithCloseOnContextDone(true)
	}
	if opts.Cache != nil {
		rc = rc.WithCompilationCache(opts.Cache)
	}
	p.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	ok := false
	defer func() {
		if !ok {
			_ = p.rt.Close(context.Background())
		}
	}()
	p.compiled, err = p.rt.CompileModule(ctx, code)
	if err != nil {
		return nil, lerr(fmt.Errorf("not a valid WebAssembly module: %w", err))
	}
	exports := p.compiled.ExportedFunctions()
	for _, v := range abiVersions() {
		if _, ok := exports[v]; ok {
			p.version = v
			break
		}
	}
	if p.version == "" {
		return nil, lerr(fmt.Errorf("not a proxy-wasm module: it exports none of %v", abiVersions()))
	}
	if _, ok := exports["proxy_on_context_create"]; !ok {
		return nil, lerr(errors.New("not a proxy-wasm module: no proxy_on_context_create export"))
	}
	if _, ok := exports["proxy_on_memory_allocate"]; !ok {
		if _, ok := exports["malloc"]; !ok {
			return nil, lerr(errors.New("exports neither proxy_on_memory_allocate nor malloc: the proxy cannot return data to it"))
		}
	}
	if _, ok := p.compiled.ExportedMemories()["memory"]; !ok {
		return nil, lerr(errors.New(`exports no memory named "memory"`))
	}
	_, p.needsBody = exports["proxy_on_request_body"]
	if _, ok := exports["proxy_on_response_body"]; ok {
		p.needsBody = true
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return nil, lerr(fmt.Errorf("WASI: %w", err))
	}
	if err := p.hostModules(ctx); err != nil {
		return nil, lerr(err)
	}
	for range opts.Instances {
		inst, err := p.newInstance(ctx)
		if err != nil {
			p.closeSlots()
			return nil, lerr(err)
		}
		s := &slot{}
		p.slots = append(p.slots, s)
		p.place(s, inst)
	}
	ok = true
	return p, nil
}

// Version is the ABI version the module exports, e.g. "0_2_1".
func (p *Plugin) Version() string { return p.version[len("proxy_abi_version_"):] }

// Name is the filter's name.
func (p *Plugin) Name() string { return p.opts.Name }

// NeedsBody says whether the module has body callbacks.
func (p *Plugin) NeedsBody() bool { return p.needsBody }

// Stats are the plugin's own counters.
func (p *Plugin) Stats() map[string]int64 {
	return map[string]int64{
		"vm_restarts": p.restarts.Load(), "traps": p.traps.Load(), "log_lines": p.logLines.Load(),
		"unimplemented_calls": p.unimplemented.Load(), "lost_contexts": p.lostContexts.Load(),
	}
}

// Close stops every VM and the runtime.
func (p *Plugin) Close() error {
	if p.closing.Swap(true) {
		return nil
	}
	p.closeSlots()
	return p.rt.Close(context.Background())
}

func (p *Plugin) closeSlots() {
	for _, s := range p.slots {
		s.mu.Lock()
		if s.inst != nil {
			s.inst.close()
			s.inst = nil
		}
		s.mu.Unlock()
	}
}

// logf writes one line to the plugin's log.
func (p *Plugin) logf(level int, format string, a ...any) {
	if level < p.logLevel {
		return
	}
	p.logLines.Add(1)
	names := [...]string{"trace", "debug", "info", "warn", "error", "critical"}
	name := "level" + fmt.Sprint(level)
	if level >= 0 && level < len(names) {
		name = names[level]
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	fmt.Fprintf(p.log, "%s %s [%s] %s\n", time.Now().Format(time.RFC3339), p.opts.Name, name, fmt.Sprintf(format, a...))
}

// moduleConfig is how every VM of the plugin is instantiated: real clocks
// and randomness (wazero's defaults are deterministic fakes), no start
// function (newInstance calls _initialize or _start itself).
func (p *Plugin) moduleConfig() wazero.ModuleConfig {
	w := lineWriter{p}
	return wazero.NewModuleConfig().
		WithName(fmt.Sprintf("%s/%d", p.opts.Name, p.modSeq.Add(1))).
		WithStartFunctions().
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader).
		WithStdout(w).WithStderr(w)
}

// lineWriter sends a module's stdout and stderr to the log at info.
type lineWriter struct{ p *Plugin }

func (w lineWriter) Write(b []byte) (int, error) {
	w.p.logf(LogInfo, "%s", trimNL(b))
	return len(b), nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// acquire returns a slot's VM, locked, rebuilding it after a trap.
func (p *Plugin) acquire() (*slot, *instance, error) {
	s := p.slots[p.next.Add(1)%uint64(len(p.slots))]
	s.mu.Lock()
	if s.inst == nil {
		inst, err := p.newInstance(context.Background())
		if err != nil {
			s.mu.Unlock()
			return nil, nil, fmt.Errorf("%w: restarting its VM: %v", ErrTrap, err)
		}
		p.restarts.Add(1)
		p.place(s, inst)
	}
	return s, s.inst, nil
}

// place puts a started VM into a slot and starts its ticks.
func (p *Plugin) place(s *slot, inst *instance) {
	s.inst, inst.lock = inst, &s.mu
	inst.startTicks()
}

// fail records a trap in inst and drops it from its slot (s is locked).
func (p *Plugin) fail(s *slot, inst *instance, err error) error {
	p.traps.Add(1)
	p.logf(LogError, "trap, VM replaced: %v", err)
	inst.close()
	if s.inst == inst {
		s.inst = nil
	}
	return fmt.Errorf("%w: %v", ErrTrap, err)
}

// stub returns a host function that answers "unimplemented" (or zeros, for
// results that are not one i32).
func (p *Plugin) stub(name string, results []api.ValueType) api.GoModuleFunc {
	return func(_ context.Context, _ api.Module, stack []uint64) {
		p.unimplemented.Add(1)
		for i := range results {
			stack[i] = 0
		}
		if len(results) == 1 && results[0] == i32 {
			stack[0] = uint64(StatusUnimplemented)
		}
	}
}

// hostModules instantiates the host side of every import the module
// declares: "env" with the proxy-wasm calls (the implemented ones, and a
// stub for every other known or unknown name, so that no import is
// missing), WASI (already instantiated by Load), and a module of stubs for
// any other import module name.
func (p *Plugin) hostModules(ctx context.Context) error {
	known := knownImports()
	impls := p.implementations()
	byModule := map[string]map[string]api.FunctionDefinition{}
	for _, def := range p.compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod == wasi_snapshot_preview1.ModuleName {
			continue
		}
		if byModule[mod] == nil {
			byModule[mod] = map[string]api.FunctionDefinition{}
		}
		byModule[mod][name] = def
	}
	if byModule["env"] == nil {
		byModule["env"] = map[string]api.FunctionDefinition{}
	}
	for mod, funcs := range byModule {
		b := p.rt.NewHostModuleBuilder(mod)
		for name, def := range funcs {
			params, results := def.ParamTypes(), def.ResultTypes()
			fn := p.stub(name, results)
			if k, ok := known[name]; ok && mod == "env" && sameTypes(k.params, params) && sameTypes(k.results, results) {
				if impl, ok := impls[name]; ok {
					fn = impl
				}
			}
			b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).WithName(name).Export(name)
		}
		if mod == "env" {
			// Stubs for the known calls the module does not import:
			// harmless, and the host module then lists the whole ABI.
			for name, k := range known {
				if _, ok := funcs[name]; !ok {
					b.NewFunctionBuilder().WithGoModuleFunction(p.stub(name, k.results), k.params, k.results).WithName(name).Export(name)
				}
			}
		}
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("host module %q: %w", mod, err)
		}
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
