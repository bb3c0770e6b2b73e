package wasm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smp-project/smp/proxy/filter"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// rootContextID is the id of every VM's one root context; stream contexts
// count up from it.
const rootContextID = 1

// instance is one VM: a module instance and its root context. It is used
// under its slot's lock; ticks take the same lock.
type instance struct {
	p   *Plugin
	mod api.Module
	mem api.Memory
	// ctx carries the instance to host calls (instanceFrom). It is never
	// cancelled; with CallTimeout each outermost call gets a deadline of
	// its own (callWithStack), inCall marking that one is running.
	ctx    context.Context
	inCall bool

	nextID uint32
	// cur is the stream whose callback is running (nil in root callbacks).
	cur *stream
	// props are values set by proxy_set_property.
	props map[string][]byte

	malloc                                    api.Function
	onContextCreate, onVMStart, onConfigure   api.Function
	onReqHeaders, onReqBody, onReqTrailers    api.Function
	onRespHeaders, onRespBody, onRespTrailers api.Function
	onDone, onLog, onDelete, onTick           api.Function
	reqHeaders3, respHeaders3                 bool // 0.2.x: (ctx, n, end_of_stream)
	stack                                     [8]uint64
	mstack                                    [1]uint64

	tickMu   sync.Mutex
	tickStop chan struct{}
	// tickPeriod is the period the root context asked for; ticks run
	// once the VM is in its slot (startTicks).
	tickPeriod time.Duration
	lock       *sync.Mutex // the slot's lock, for ticks
	closed     atomic.Bool
}

type instKey struct{}

func instanceFrom(ctx context.Context) *instance {
	inst, _ := ctx.Value(instKey{}).(*instance)
	return inst
}

// stream is one exchange's HTTP context in one VM.
type stream struct {
	inst *instance
	id   uint32
	x    *filter.Exchange
	// respPhase: response callbacks have started (response headers exist).
	respPhase bool
}

// newInstance instantiates the module and runs its start: _initialize (or
// _start), the root context, proxy_on_vm_start and proxy_on_configure.
func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	mod, err := p.rt.InstantiateModule(ctx, p.compiled, p.moduleConfig())
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	inst := &instance{p: p, mod: mod, mem: mod.Memory(), nextID: rootContextID, props: map[string][]byte{}}
	inst.ctx = context.WithValue(context.Background(), instKey{}, inst)
	ok := false
	defer func() {
		if !ok {
			inst.close()
		}
	}()
	fn := mod.ExportedFunction
	inst.malloc = fn("proxy_on_memory_allocate")
	if inst.malloc == nil {
		inst.malloc = fn("malloc")
	}
	inst.onContextCreate, inst.onVMStart, inst.onConfigure = fn("proxy_on_context_create"), fn("proxy_on_vm_start"), fn("proxy_on_configure")
	inst.onReqHeaders, inst.onReqBody, inst.onReqTrailers = fn("proxy_on_request_headers"), fn("proxy_on_request_body"), fn("proxy_on_request_trailers")
	inst.onRespHeaders, inst.onRespBody, inst.onRespTrailers = fn("proxy_on_response_headers"), fn("proxy_on_response_body"), fn("proxy_on_response_trailers")
	inst.onDone, inst.onLog, inst.onDelete, inst.onTick = fn("proxy_on_done"), fn("proxy_on_log"), fn("proxy_on_delete"), fn("proxy_on_tick")
	inst.reqHeaders3 = inst.onReqHeaders != nil && len(inst.onReqHeaders.Definition().ParamTypes()) >= 3
	inst.respHeaders3 = inst.onRespHeaders != nil && len(inst.onRespHeaders.Definition().ParamTypes()) >= 3

	if start := fn("_initialize"); start != nil {
		if _, err := inst.call(start); err != nil {
			return nil, fmt.Errorf("_initialize: %w", err)
		}
	} else if start := fn("_start"); start != nil {
		if _, err := inst.call(start); err != nil {
			var exit *sys.ExitError
			if errors.As(err, &exit) {
				return nil, fmt.Errorf("_start exited (%d): a filter must be a reactor (Go: -buildmode=c-shared)", exit.ExitCode())
			}
			return nil, fmt.Errorf("_start: %w", err)
		}
	}
	if _, err := inst.call(inst.onContextCreate, rootContextID, 0); err != nil {
		return nil, fmt.Errorf("proxy_on_context_create (root): %w", err)
	}
	if inst.onVMStart != nil {
		r, err := inst.call(inst.onVMStart, rootContextID, uint64(len(p.opts.VMConfig)))
		if err != nil {
			return nil, fmt.Errorf("proxy_on_vm_start: %w", err)
		}
		if r == 0 {
			return nil, errors.New("proxy_on_vm_start returned false: the module refused to start")
		}
	}
	if inst.onConfigure != nil {
		r, err := inst.call(inst.onConfigure, rootContextID, uint64(len(p.opts.Config)))
		if err != nil {
			return nil, fmt.Errorf("proxy_on_configure: %w", err)
		}
		if r == 0 {
			return nil, fmt.Errorf("proxy_on_configure returned false: the module refused its configuration %q", p.opts.Config)
		}
	}
	ok = true
	return inst, nil
}

// call runs a guest function with up to 8 i32/i64 arguments and returns
// its first result (0 when it has none). A nil fn is not called.
func (inst *instance) call(fn api.Function, args ...uint64) (uint64, error) {
	if fn == nil {
		return 0, nil
	}
	def := fn.Definition()
	np, nr := len(def.ParamTypes()), len(def.ResultTypes())
	st := inst.stack[:max(np, nr, 1)]
	// A module may declare fewer parameters than the ABI passes (ABI
	// 0.1.0's header callbacks have no end_of_stream); extra ones are
	// dropped, missing ones are zero.
	for i := range st {
		st[i] = 0
		if i < np && i < len(args) {
			st[i] = args[i]
		}
	}
	if err := inst.callWithStack(fn, st); err != nil {
		return 0, err
	}
	if nr == 0 {
		return 0, nil
	}
	return st[0], nil
}

// callWithStack calls fn, under the plugin's CallTimeout when it has one.
// A call made from a host function (an allocation while a callback runs)
// is inside the outer call's deadline, so only the outermost sets one.
func (inst *instance) callWithStack(fn api.Function, st []uint64) error {
	timeout := inst.p.opts.CallTimeout
	if timeout <= 0 || inst.inCall {
		return fn.CallWithStack(inst.ctx, st)
	}
	ctx, cancel := context.WithTimeout(inst.ctx, timeout)
	inst.inCall = true
	err := fn.CallWithStack(ctx, st)
	inst.inCall = false
	cancel()
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded {
		err = fmt.Errorf("still running after the %v call timeout, stopped: %w", timeout, err)
	}
	return err
}

// alloc asks the module for n bytes of its memory.
func (inst *instance) alloc(n uint32) (uint32, error) {
	inst.mstack[0] = uint64(n)
	if err := inst.callWithStack(inst.malloc, inst.mstack[:]); err != nil {
		return 0, err
	}
	return uint32(inst.mstack[0]), nil
}

func (inst *instance) close() {
	if inst.closed.Swap(true) {
		return
	}
	inst.setTick(0)
	_ = inst.mod.Close(context.Background())
}

// setTick starts, changes or (period 0) stops the root context's ticks.
func (inst *instance) setTick(period time.Duration) {
	inst.tickMu.Lock()
	defer inst.tickMu.Unlock()
	inst.tickPeriod = period
	inst.startTicksLocked()
}

// startTicks starts the ticks asked for before the VM had a slot.
func (inst *instance) startTicks() {
	inst.tickMu.Lock()
	defer inst.tickMu.Unlock()
	inst.startTicksLocked()
}

func (inst *instance) startTicksLocked() {
	period := inst.tickPeriod
	if inst.tickStop != nil {
		close(inst.tickStop)
		inst.tickStop = nil
	}
	if period <= 0 || inst.onTick == nil || inst.closed.Load() || inst.lock == nil {
		return
	}
	stop := make(chan struct{})
	inst.tickStop = stop
	go inst.tick(period, stop)
}

// tick calls proxy_on_tick every period until stop closes; a tick that
// traps replaces the VM like a request's trap.
func (inst *instance) tick(period time.Duration, stop chan struct{}) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		inst.lock.Lock()
		if inst.closed.Load() {
			inst.lock.Unlock()
			return
		}
		inst.cur = nil
		if _, err := inst.call(inst.onTick, rootContextID); err != nil {
			s := inst.p.slotOf(inst)
			if s != nil {
				_ = inst.p.fail(s, inst, fmt.Errorf("proxy_on_tick: %w", err))
			} else {
				inst.close()
			}
			inst.lock.Unlock()
			return
		}
		inst.lock.Unlock()
	}
}

// slotOf finds the slot holding inst (its lock is held by the caller).
func (p *Plugin) slotOf(inst *instance) *slot {
	for _, s := range p.slots {
		if s.inst == inst {
			return s
		}
	}
	return nil
}
