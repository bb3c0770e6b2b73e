package envoy

import (
	"strconv"
	"strings"
	"testing"
	"time"

	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestYAMLRoundTrip: each configuration written as YAML reads back into
// Envoy's types, passes their validation, and says what was asked.
func TestYAMLRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		filters []string
	}{
		{"pass-through", Config{Listen: "127.0.0.1:18200", Upstream: "127.0.0.1:18100", Admin: "127.0.0.1:19000"}, []string{"envoy.filters.http.router"}},
		{"native", Config{Listen: "127.0.0.1:18201", Upstream: "127.0.0.1:18100", RateLimit: &RateLimit{Rate: 100, Burst: 100}},
			[]string{"envoy.filters.http.local_ratelimit", "envoy.filters.http.router"}},
		{"wasm", Config{Listen: "127.0.0.1:18202", Upstream: "127.0.0.1:18100", Wasm: &Wasm{File: "/opt/ratelimit.wasm", Config: `{"rate":100}`, RootID: "ratelimit"}},
			[]string{"envoy.filters.http.wasm", "envoy.filters.http.router"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y, err := YAML(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(y)
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			l := b.GetStaticResources().GetListeners()[0]
			if got := l.GetAddress().GetSocketAddress().GetPortValue(); got == 0 || !strings.HasSuffix(tc.cfg.Listen, ":"+strconv.FormatUint(uint64(got), 10)) {
				t.Errorf("listener port %d, want %s", got, tc.cfg.Listen)
			}
			var hcm hcmv3.HttpConnectionManager
			if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range hcm.GetHttpFilters() {
				names = append(names, f.GetName())
				switch f.GetName() {
				case "envoy.filters.http.local_ratelimit":
					var rl localrlv3.LocalRateLimit
					if err := f.GetTypedConfig().UnmarshalTo(&rl); err != nil {
						t.Fatal(err)
					}
					tb := rl.GetTokenBucket()
					rate := float64(tb.GetTokensPerFill().GetValue()) / tb.GetFillInterval().AsDuration().Seconds()
					if rate != 100 || tb.GetMaxTokens() != 100 || tb.GetFillInterval().AsDuration() < 50*time.Millisecond {
						t.Errorf("token bucket %v: %v/s", tb, rate)
					}
				case "envoy.filters.http.wasm":
					var w wasmfilterv3.Wasm
					if err := f.GetTypedConfig().UnmarshalTo(&w); err != nil {
						t.Fatal(err)
					}
					var conf wrapperspb.StringValue
					if err := w.GetConfig().GetConfiguration().UnmarshalTo(&conf); err != nil {
						t.Fatal(err)
					}
					if w.GetConfig().GetRootId() != "ratelimit" || conf.GetValue() != `{"rate":100}` ||
						w.GetConfig().GetVmConfig().GetCode().GetLocal().GetFilename() != "/opt/ratelimit.wasm" {
						t.Errorf("wasm filter %v", &w)
					}
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.filters, ",") {
				t.Errorf("filters %v, want %v", names, tc.filters)
			}
		})
	}
}

// TestInvalid: what Envoy's API would refuse is refused here.
func TestInvalid(t *testing.T) {
	for _, c := range []Config{
		{Listen: "nowhere", Upstream: "127.0.0.1:1"},
		{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:1"},
		{Listen: "127.0.0.1:1", Upstream: "127.0.0.1:2", RateLimit: &RateLimit{Rate: 0}},
		{Listen: "127.0.0.1:1", Upstream: "127.0.0.1:2", Wasm: &Wasm{}},
	} {
		if _, err := YAML(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	y, err := YAML(Config{Listen: "127.0.0.1:18200", Upstream: "127.0.0.1:18100"})
	if err != nil {
		t.Fatal(err)
	}
	// A cluster without a name breaks Envoy's validation rules.
	broken := strings.Replace(string(y), "name: smp_upstream", "name: \"\"", 1)
	if _, err := Parse([]byte(broken)); err == nil || !strings.Contains(err.Error(), "Name") {
		t.Errorf("a nameless cluster: %v", err)
	}
}
