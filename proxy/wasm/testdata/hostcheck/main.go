//go:build wasip1

// Command hostcheck is a proxy-wasm guest for the host's tests: each
// request's x-op header names the host calls it exercises, and it reports
// what it saw in a local response or through the upstream's answer.
package main

import (
	"encoding/binary"
	"fmt"
	"strings"

	pw "github.com/smp-project/smp/lab/wasm/proxywasm"
	_ "github.com/smp-project/smp/lab/wasm/proxywasm/body"
)

func main() {}

func init() { pw.SetRoot(&root{}) }

type root struct{ config string }

func (r *root) OnVMStart(int) bool {
	pw.Log(pw.LogInfo, "hostcheck: vm start")
	return true
}

func (r *root) OnConfigure(size int) bool {
	b, _ := pw.Buffer(pw.PluginConfig, 0, uint32(size))
	r.config = string(b)
	if r.config == "refuse" {
		return false
	}
	id, _ := pw.Property("plugin_root_id")
	pw.SetSharedData("hostcheck/configured", []byte(r.config+"|"+string(id)), 0)
	if strings.Contains(r.config, "tick") {
		pw.SetTickPeriod(10)
	}
	return true
}

func incr(k string) {
	for range 16 {
		v, cas, _ := pw.SharedData(k)
		n := uint64(0)
		if len(v) == 8 {
			n = binary.LittleEndian.Uint64(v)
		}
		if pw.SetSharedData(k, binary.LittleEndian.AppendUint64(nil, n+1), cas) == pw.StatusOK {
			return
		}
	}
}

func count(k string) uint64 {
	v, _, _ := pw.SharedData(k)
	if len(v) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(v)
}

func (r *root) OnTick() { incr("hostcheck/ticks") }

func (r *root) NewHTTPContext(id uint32) pw.HTTPContext { return &http{id: id} }

type http struct {
	id uint32
	op string
}

func reply(status uint32, body string) pw.Action {
	pw.SendLocalResponse(status, "hostcheck", []byte(body), [][2]string{{"x-local", "1"}})
	return pw.Pause
}

func (h *http) OnRequestHeaders(n int, eos bool) pw.Action {
	h.op, _ = pw.Header(pw.RequestHeaders, "x-op")
	var b strings.Builder
	switch h.op {
	case "headers":
		ps, st := pw.Headers(pw.RequestHeaders)
		size, st2 := pw.HeadersSize(pw.RequestHeaders)
		fmt.Fprintf(&b, "status=%d size=%d/%d n=%d eos=%v\n", st, size, st2, n, eos)
		for _, p := range ps {
			fmt.Fprintf(&b, "%s=%s\n", p[0], p[1])
		}
		m, _ := pw.Header(pw.RequestHeaders, ":method")
		_, missing := pw.Header(pw.RequestHeaders, "x-absent")
		_, resp := pw.Headers(pw.ResponseHeaders)
		fmt.Fprintf(&b, "method=%s absent=%d response-map=%d\n", m, missing, resp)
		return reply(200, b.String())
	case "remove":
		pw.RemoveHeader(pw.RequestHeaders, "x-smp-status")
	case "add":
		pw.AddHeader(pw.RequestHeaders, "x-smp-status", "202")
	case "replace":
		pw.ReplaceHeader(pw.RequestHeaders, "x-smp-status", "203")
	case "path":
		pw.ReplaceHeader(pw.RequestHeaders, ":path", "/?size=9")
	case "setpairs":
		ps, _ := pw.Headers(pw.RequestHeaders)
		var out [][2]string
		for _, p := range ps {
			if p[0] != "x-op" {
				out = append(out, p)
			}
		}
		out = append(out, [2]string{"x-smp-status", "204"})
		if st := pw.SetHeaders(pw.RequestHeaders, out); st != pw.StatusOK {
			return reply(500, fmt.Sprint("set pairs: ", st))
		}
		if _, st := pw.Header(pw.RequestHeaders, "x-op"); st != pw.StatusNotFound {
			return reply(500, "x-op still there")
		}
	case "badheader":
		fmt.Fprintf(&b, "add=%d", pw.AddHeader(pw.RequestHeaders, "x-bad", "a\r\nb"))
		return reply(200, b.String())
	case "local":
		return reply(451, "unavailable for legal reasons")
	case "props":
		for _, p := range [][]string{{"request", "path"}, {"request", "method"}, {"request", "host"}, {"request", "scheme"}, {"request", "protocol"}, {"plugin_root_id"}, {"plugin_name"}, {"source", "address"}, {"no", "such"}} {
			v, st := pw.Property(p...)
			fmt.Fprintf(&b, "%s=%s (%d)\n", strings.Join(p, "."), v, st)
		}
		v, _ := pw.Property("destination", "port")
		if len(v) == 8 {
			fmt.Fprintf(&b, "destination.port=%d\n", binary.LittleEndian.Uint64(v))
		}
		st := pw.SetProperty([]byte("v1"), "filter", "state")
		v, st2 := pw.Property("filter", "state")
		fmt.Fprintf(&b, "set=%d filter.state=%s (%d)\n", st, v, st2)
		return reply(200, b.String())
	case "shared":
		cfg, _, _ := pw.SharedData("hostcheck/configured")
		_, _, missing := pw.SharedData("hostcheck/none")
		st1 := pw.SetSharedData("hostcheck/k", []byte("a"), 0)
		_, cas, _ := pw.SharedData("hostcheck/k")
		st2 := pw.SetSharedData("hostcheck/k", []byte("b"), cas+1)
		st3 := pw.SetSharedData("hostcheck/k", []byte("c"), cas)
		v, _, _ := pw.SharedData("hostcheck/k")
		fmt.Fprintf(&b, "configured=%s missing=%d set=%d stale=%d fresh=%d value=%s", cfg, missing, st1, st2, st3, v)
		return reply(200, b.String())
	case "time":
		return reply(200, fmt.Sprint(pw.Now()))
	case "ticks":
		return reply(200, fmt.Sprint(count("hostcheck/ticks")))
	case "counters":
		return reply(200, fmt.Sprintf("done=%d log=%d delete=%d", count("hostcheck/done"), count("hostcheck/log"), count("hostcheck/delete")))
	case "log":
		lvl, st := pw.LogLevel()
		pw.Log(pw.LogWarn, "hostcheck: warn line")
		pw.Log(pw.LogDebug, "hostcheck: debug line")
		return reply(200, fmt.Sprintf("level=%d (%d)", lvl, st))
	case "continue":
		return reply(200, fmt.Sprintf("continue=%d", pw.ContinueStream(0)))
	case "trap":
		var m map[string]int
		m["x"] = 1 // a nil map write panics: the module traps
	case "bodystatus":
		n, st := pw.BufferStatus(pw.RequestBody)
		return reply(200, fmt.Sprintf("len=%d (%d)", n, st))
	}
	return pw.Continue
}

func (h *http) OnRequestBody(size int, eos bool) pw.Action {
	switch h.op {
	case "body":
		b, _ := pw.Buffer(pw.RequestBody, 0, uint32(size))
		pw.SetBuffer(pw.RequestBody, 0, uint32(size), []byte(strings.ToUpper(string(b))+"!"))
	case "bodystatus2":
		n, st := pw.BufferStatus(pw.RequestBody)
		return reply(200, fmt.Sprintf("len=%d (%d) size=%d eos=%v", n, st, size, eos))
	case "trapbody":
		panic("trap in the body callback")
	}
	return pw.Continue
}

func (h *http) OnResponseHeaders(int, bool) pw.Action {
	switch h.op {
	case "resp":
		s, _ := pw.Header(pw.ResponseHeaders, ":status")
		pw.AddHeader(pw.ResponseHeaders, "x-upstream-status", s)
		pw.ReplaceHeader(pw.ResponseHeaders, ":status", "299")
		pw.RemoveHeader(pw.ResponseHeaders, "content-type")
	case "localresp":
		return reply(502, "replaced in the response")
	}
	return pw.Continue
}

func (h *http) OnResponseBody(size int, eos bool) pw.Action {
	if h.op == "body" {
		pw.SetBuffer(pw.ResponseBody, 0, 0, []byte("["))
		pw.SetBuffer(pw.ResponseBody, 1<<30, 0, []byte("]"))
	}
	return pw.Continue
}

func (h *http) OnDone() bool { incr("hostcheck/done"); return true }
func (h *http) OnLog()       { incr("hostcheck/log") }
func (h *http) OnDelete()    { incr("hostcheck/delete") }
