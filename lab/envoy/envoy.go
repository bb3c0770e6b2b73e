// Package envoy writes Envoy configurations for the lab's experiments —
// the same sidecar functions smp proxy runs (a native local rate limit, a
// proxy-wasm filter), for users who run Envoy — built from Envoy's own API
// types (go-control-plane) and validated with their generated rules, so
// that what is written is what Envoy's API accepts.
package envoy

import (
	"fmt"
	"net"
	"strconv"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Config is one sidecar: a listener in front of an upstream, with at most
// a native rate limit and a WebAssembly filter (in that order).
type Config struct {
	// Listen and Upstream are host:port; Admin, if set, is Envoy's admin
	// listener.
	Listen, Upstream, Admin string
	RateLimit               *RateLimit
	Wasm                    *Wasm
}

// RateLimit is Envoy's local rate limit: a token bucket of Burst tokens,
// refilled at Rate a second; beyond it, a local 429.
type RateLimit struct {
	Rate  float64
	Burst uint32
}

// Wasm is a proxy-wasm filter: the module file, its plugin configuration
// and root id, as smp proxy's --wasm, --wasm-config and --wasm-root-id.
type Wasm struct {
	File, Config, RootID string
}

// Bootstrap builds and validates the Envoy bootstrap.
func Bootstrap(c Config) (*bootstrapv3.Bootstrap, error) {
	listen, err := address(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	upstream, err := address(c.Upstream)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	var filters []*hcmv3.HttpFilter
	if rl := c.RateLimit; rl != nil {
		if !(rl.Rate > 0) {
			return nil, fmt.Errorf("rate limit: rate %v must be positive", rl.Rate)
		}
		// Envoy refills whole tokens at an interval: one token every
		// 1/rate, at least a millisecond apart (Envoy's minimum is 50 ms
		// for the bucket's fill interval, so refill in bigger steps).
		interval := time.Duration(float64(time.Second) / rl.Rate)
		tokens := uint32(1)
		if interval < 50*time.Millisecond {
			tokens = uint32(rl.Rate*0.05 + 0.5)
			interval = 50 * time.Millisecond
		}
		burst := max(rl.Burst, tokens)
		cfg := &localrlv3.LocalRateLimit{
			StatPrefix:     "smp_local_rate_limit",
			TokenBucket:    &typev3.TokenBucket{MaxTokens: burst, TokensPerFill: wrapperspb.UInt32(tokens), FillInterval: durationpb.New(interval)},
			FilterEnabled:  percent100("local_rate_limit_enabled"),
			FilterEnforced: percent100("local_rate_limit_enforced"),
		}
		f, err := httpFilter("envoy.filters.http.local_ratelimit", cfg)
		if err != nil {
			return nil, err
		}
		filters = append(filters, f)
	}
	if w := c.Wasm; w != nil {
		if w.File == "" {
			return nil, fmt.Errorf("wasm: no module file")
		}
		pc := &wasmv3.PluginConfig{
			Name:   "smp_wasm",
			RootId: w.RootID,
			Vm: &wasmv3.PluginConfig_VmConfig{VmConfig: &wasmv3.VmConfig{
				VmId:    "smp_wasm",
				Runtime: "envoy.wasm.runtime.v8",
				Code:    &corev3.AsyncDataSource{Specifier: &corev3.AsyncDataSource_Local{Local: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: w.File}}}},
			}},
		}
		if w.Config != "" {
			conf, err := anypb.New(wrapperspb.String(w.Config))
			if err != nil {
				return nil, err
			}
			pc.Configuration = conf
		}
		f, err := httpFilter("envoy.filters.http.wasm", &wasmfilterv3.Wasm{Config: pc})
		if err != nil {
			return nil, err
		}
		filters = append(filters, f)
	}
	router, err := httpFilter("envoy.filters.http.router", &routerv3.Router{})
	if err != nil {
		return nil, err
	}
	filters = append(filters, router)
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: "smp_ingress",
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			Name: "smp_route",
			VirtualHosts: []*routev3.VirtualHost{{
				Name: "smp", Domains: []string{"*"},
				Routes: []*routev3.Route{{
					Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "smp_upstream"}}},
				}},
			}},
		}},
		HttpFilters: filters,
	}
	hcmAny, err := anypb.New(hcm)
	if err != nil {
		return nil, err
	}
	b := &bootstrapv3.Bootstrap{
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Listeners: []*listenerv3.Listener{{
				Name:    "smp_listener",
				Address: listen,
				FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
					Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcmAny},
				}}}},
			}},
			Clusters: []*clusterv3.Cluster{{
				Name:                 "smp_upstream",
				ConnectTimeout:       durationpb.New(time.Second),
				ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
				LoadAssignment: &endpointv3.ClusterLoadAssignment{
					ClusterName: "smp_upstream",
					Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
						HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: upstream}},
					}}}},
				},
			}},
		},
	}
	if c.Admin != "" {
		admin, err := address(c.Admin)
		if err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
		b.Admin = &bootstrapv3.Admin{Address: admin}
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}
	return b, nil
}

// YAML is the bootstrap as Envoy reads it (envoy -c FILE).
func YAML(c Config) ([]byte, error) {
	b, err := Bootstrap(c)
	if err != nil {
		return nil, err
	}
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(b)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := yaml.Unmarshal(js, &doc); err != nil {
		return nil, err
	}
	return yaml.Marshal(doc)
}

// Parse reads a bootstrap written by YAML (or by hand) back into Envoy's
// types and validates it.
func Parse(y []byte) (*bootstrapv3.Bootstrap, error) {
	var doc any
	if err := yaml.Unmarshal(y, &doc); err != nil {
		return nil, err
	}
	js, err := jsonOf(doc)
	if err != nil {
		return nil, err
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, b); err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}
	return b, nil
}

func percent100(key string) *corev3.RuntimeFractionalPercent {
	return &corev3.RuntimeFractionalPercent{RuntimeKey: key, DefaultValue: &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED}}
}

func httpFilter(name string, cfg proto.Message) (*hcmv3.HttpFilter, error) {
	a, err := anypb.New(cfg)
	if err != nil {
		return nil, err
	}
	return &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: a}}, nil
}

func address(hostport string) (*corev3.Address, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("%q: want HOST:PORT", hostport)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return nil, fmt.Errorf("%q: port must be 1 to 65535", hostport)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)},
	}}}, nil
}
