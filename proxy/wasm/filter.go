package wasm

import (
	"fmt"

	"github.com/smp-project/smp/proxy/filter"
	"github.com/tetratelabs/wazero/api"
)

// Plugin is a filter.Filter: each exchange is an HTTP context in one VM,
// created on the request and deleted when the exchange is done.
var _ filter.Filter = (*Plugin)(nil)

// streamState is what Request hands the chain and gets back in Response
// and Done: the stream and the VM it lives in.
type streamState struct {
	s    *slot
	inst *instance
	st   *stream
}

func boolArg(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Request creates the HTTP context and runs the request callbacks: headers,
// then the whole body (when buffered and not empty).
func (p *Plugin) Request(x *filter.Exchange) (any, error) {
	s, inst, err := p.acquire()
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	inst.nextID++
	st := &stream{inst: inst, id: inst.nextID, x: x}
	state := &streamState{s: s, inst: inst, st: st}
	inst.cur = st
	defer func() { inst.cur = nil }()
	if _, err := inst.call(inst.onContextCreate, uint64(st.id), rootContextID); err != nil {
		return nil, p.fail(s, inst, fmt.Errorf("proxy_on_context_create: %w", err))
	}
	n := len(x.Header) + 4
	if _, err := inst.call(inst.onReqHeaders, uint64(st.id), uint64(n), boolArg(x.NoBody)); err != nil {
		return nil, p.fail(s, inst, fmt.Errorf("proxy_on_request_headers: %w", err))
	}
	if !x.Answered && x.Buffered && len(x.Body) > 0 {
		if _, err := inst.call(inst.onReqBody, uint64(st.id), uint64(len(x.Body)), 1); err != nil {
			return nil, p.fail(s, inst, fmt.Errorf("proxy_on_request_body: %w", err))
		}
	}
	return state, nil
}

// lock takes the stream's VM for a later callback; false if the VM has
// been replaced since (a trap in another exchange), and with it this
// exchange's context.
func (p *Plugin) lock(state any) (*streamState, bool) {
	ss, _ := state.(*streamState)
	if ss == nil {
		return nil, false
	}
	ss.s.mu.Lock()
	if ss.s.inst != ss.inst {
		ss.s.mu.Unlock()
		p.lostContexts.Add(1)
		return nil, false
	}
	return ss, true
}

// Response runs the response callbacks: headers, then the whole body.
func (p *Plugin) Response(x *filter.Exchange, state any) error {
	ss, ok := p.lock(state)
	if !ok {
		return nil
	}
	defer ss.s.mu.Unlock()
	inst, st := ss.inst, ss.st
	st.respPhase = true
	inst.cur = st
	defer func() { inst.cur = nil }()
	n := len(x.RespHeader) + 1
	eos := x.Buffered && len(x.RespBody) == 0
	if _, err := inst.call(inst.onRespHeaders, uint64(st.id), uint64(n), boolArg(eos)); err != nil {
		return p.fail(ss.s, inst, fmt.Errorf("proxy_on_response_headers: %w", err))
	}
	if x.Buffered && len(x.RespBody) > 0 {
		if _, err := inst.call(inst.onRespBody, uint64(st.id), uint64(len(x.RespBody)), 1); err != nil {
			return p.fail(ss.s, inst, fmt.Errorf("proxy_on_response_body: %w", err))
		}
	}
	return nil
}

// Done ends the HTTP context: proxy_on_done, proxy_on_log, proxy_on_delete.
// A trap here cannot fail the exchange any more (its answer is decided);
// it replaces the VM and is counted.
func (p *Plugin) Done(x *filter.Exchange, state any) {
	ss, ok := p.lock(state)
	if !ok {
		return
	}
	defer ss.s.mu.Unlock()
	inst, st := ss.inst, ss.st
	st.respPhase = x.Status != 0
	inst.cur = st
	defer func() { inst.cur = nil }()
	id := uint64(st.id)
	names := [...]string{"proxy_on_done", "proxy_on_log", "proxy_on_delete"}
	for i, fn := range [...]api.Function{inst.onDone, inst.onLog, inst.onDelete} {
		if _, err := inst.call(fn, id); err != nil {
			_ = p.fail(ss.s, inst, fmt.Errorf("%s: %w", names[i], err))
			return
		}
	}
}
