package wasm

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/smp-project/smp/proxy/filter"
)

// BenchmarkRateLimit is the per-request cost of the rate limiter's filter
// calls (request, response, done) without the network: native and
// proxy-wasm, configured so that nothing is limited.
func BenchmarkRateLimit(b *testing.B) {
	const cfg = "rate=1000000000,burst=1000000000,key=header:x-user"
	native, err := filter.Parse("ratelimit:"+cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	p, err := Load(context.Background(), Options{Path: goModule(b, "../../lab/wasm/ratelimit"), Config: []byte(cfg), Cache: testEnv.cache})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	// With a call timeout, compiled apart (no shared cache): wazero's
	// termination checks and its goroutine per call.
	pt, err := Load(context.Background(), Options{Path: goModule(b, "../../lab/wasm/ratelimit"), Config: []byte(cfg), CallTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer pt.Close()
	for _, c := range []struct {
		name string
		f    filter.Filter
	}{{"native", native}, {"wasm", p}, {"wasm-timeout", pt}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				x := &filter.Exchange{Ctx: context.Background(), Method: "GET", Path: "/", Authority: "a", Scheme: "http",
					Header: http.Header{"X-User": {"ann"}}, Client: netip.MustParseAddrPort("127.0.0.1:5000"), NoBody: true}
				st, err := c.f.Request(x)
				if err != nil || x.Answered {
					b.Fatal(err, x.Status)
				}
				x.Status, x.RespHeader = 200, http.Header{}
				if err := c.f.Response(x, st); err != nil {
					b.Fatal(err)
				}
				c.f.Done(x, st)
			}
		})
	}
}
