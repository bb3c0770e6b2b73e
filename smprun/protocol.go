package smprun

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/grpc"
	"github.com/smp-project/smp/load/http1"
	"github.com/smp-project/smp/load/http2"
	"github.com/smp-project/smp/load/tcp"
	"github.com/smp-project/smp/load/udp"
	"github.com/smp-project/smp/spec"
)

// Protocol names: the values of --protocol, and the drivers' names
// (load.Protocol.Name).
const (
	ProtoHTTP  = "http"  // HTTP/1.1 (load/http1)
	ProtoHTTP2 = "http2" // HTTP/2, TLS with ALPN or h2c (load/http2)
	ProtoGRPC  = "grpc"  // gRPC (load/grpc)
	ProtoTCP   = "tcp"   // raw TCP request/response (load/tcp)
	ProtoUDP   = "udp"   // UDP datagram request/response (load/udp)
)

// ClientProtocol decides which driver a client uses: its protocol field
// (with http2 choosing HTTP/2 for PROTOCOL_HTTP), or, when the field is
// unset, the scheme of its endpoint URLs: http and https are HTTP, grpc and
// grpcs gRPC, tcp TCP and udp UDP. Every endpoint's scheme must fit the
// protocol; a gRPC client also takes http:// and https:// URLs, as the SMP
// spec allows, and calls them plaintext and over TLS. where names the
// client in errors ("clients[0]").
func ClientProtocol(c *spec.PerformanceTestConfig_Client, where string) (string, error) {
	urls := c.GetEndpointUrls()
	if len(urls) == 0 {
		return "", invalid("%s has no endpoint_urls", where)
	}
	proto := c.GetProtocol()
	for j, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return "", invalid("%s.endpoint_urls[%d]: %q is not a URL such as http://host:port/path", where, j, raw)
		}
		if proto == spec.PerformanceTestConfig_Client_PROTOCOL_INVALID {
			if proto = spec.ProtocolForScheme(u.Scheme); proto == spec.PerformanceTestConfig_Client_PROTOCOL_INVALID {
				return "", invalid("%s.endpoint_urls[%d]: %q: unknown scheme %q (want http, https, grpc, grpcs, tcp or udp)", where, j, raw, u.Scheme)
			}
		}
		if !schemeFits(proto, u.Scheme) {
			return "", invalid("%s.endpoint_urls[%d]: %q: scheme %q does not fit protocol %s", where, j, raw, u.Scheme, protoName(proto))
		}
	}
	switch proto {
	case spec.PerformanceTestConfig_Client_PROTOCOL_HTTP:
		if c.GetHttp2() {
			return ProtoHTTP2, nil
		}
		return ProtoHTTP, nil
	case spec.PerformanceTestConfig_Client_PROTOCOL_GRPC:
		return ProtoGRPC, nil
	case spec.PerformanceTestConfig_Client_PROTOCOL_TCP, spec.PerformanceTestConfig_Client_PROTOCOL_UDP:
		if c.GetHttp2() {
			return "", invalid("%s: http2 has no meaning for protocol %s", where, protoName(proto))
		}
		return protoName(proto), nil
	}
	return "", invalid("%s.protocol: unknown protocol %d", where, proto)
}

// schemeFits reports whether a URL scheme suits a protocol; any known
// scheme fits an unset protocol.
func schemeFits(proto spec.PerformanceTestConfig_Client_Protocol, scheme string) bool {
	scheme = strings.ToLower(scheme)
	switch proto {
	case spec.PerformanceTestConfig_Client_PROTOCOL_INVALID:
		return spec.ProtocolForScheme(scheme) != spec.PerformanceTestConfig_Client_PROTOCOL_INVALID
	case spec.PerformanceTestConfig_Client_PROTOCOL_GRPC:
		return scheme == "grpc" || scheme == "grpcs" || scheme == "http" || scheme == "https"
	}
	return spec.ProtocolForScheme(scheme) == proto
}

// protocolField is the config's protocol field for a protocol name: http
// and http2 are PROTOCOL_HTTP (the http2 field tells them apart); an
// unknown name is PROTOCOL_INVALID, the field unset.
func protocolField(name string) spec.PerformanceTestConfig_Client_Protocol {
	switch name {
	case ProtoHTTP, ProtoHTTP2:
		return spec.PerformanceTestConfig_Client_PROTOCOL_HTTP
	case ProtoGRPC:
		return spec.PerformanceTestConfig_Client_PROTOCOL_GRPC
	case ProtoTCP:
		return spec.PerformanceTestConfig_Client_PROTOCOL_TCP
	case ProtoUDP:
		return spec.PerformanceTestConfig_Client_PROTOCOL_UDP
	}
	return spec.PerformanceTestConfig_Client_PROTOCOL_INVALID
}

// protoName is the lower-case name of a protocol enum: http, grpc, tcp, udp.
func protoName(p spec.PerformanceTestConfig_Client_Protocol) string {
	return strings.ToLower(strings.TrimPrefix(p.String(), "PROTOCOL_"))
}

// endpointURL is the URL the driver is given: a gRPC endpoint written as
// http:// or https:// becomes grpc:// or grpcs://.
func endpointURL(proto, raw string) string {
	if proto != ProtoGRPC {
		return raw
	}
	scheme, rest, _ := strings.Cut(raw, "://")
	switch strings.ToLower(scheme) {
	case "http":
		return "grpc://" + rest
	case "https":
		return "grpcs://" + rest
	}
	return raw
}

// newDriverFunc builds the driver of one endpoint.
type newDriverFunc func(ctx context.Context, opts load.Options) (load.Driver, error)

// driverFactory parses a client's additional_options for its protocol and
// returns the constructor of its drivers, with a note when the options are
// ignored (the HTTP drivers take none, but Meshery profiles carry their
// load generator's options there).
func driverFactory(proto, additionalOptions, where string) (newDriverFunc, string, error) {
	field := where + ".additional_options"
	optionsErr := func(err error) error {
		return invalid("%s: %s", field, strings.TrimPrefix(err.Error(), proto+": additional_options: "))
	}
	switch proto {
	case ProtoHTTP, ProtoHTTP2:
		var note string
		if s := strings.TrimSpace(additionalOptions); s != "" && s != "null" && s != "{}" {
			note = fmt.Sprintf("%s: ignored: the HTTP drivers take no additional options", field)
		}
		if proto == ProtoHTTP2 {
			return func(_ context.Context, o load.Options) (load.Driver, error) { return http2.New(o) }, note, nil
		}
		return func(_ context.Context, o load.Options) (load.Driver, error) { return http1.New(o) }, note, nil
	case ProtoGRPC:
		cfg, err := grpc.ParseOptions(additionalOptions)
		if err != nil {
			return nil, "", optionsErr(err)
		}
		return func(ctx context.Context, o load.Options) (load.Driver, error) { return grpc.New(ctx, o, cfg) }, "", nil
	case ProtoTCP:
		cfg, err := tcp.ParseOptions(additionalOptions)
		if err != nil {
			return nil, "", optionsErr(err)
		}
		return func(_ context.Context, o load.Options) (load.Driver, error) { return tcp.New(o, cfg) }, "", nil
	case ProtoUDP:
		cfg, err := udp.ParseOptions(additionalOptions)
		if err != nil {
			return nil, "", optionsErr(err)
		}
		return func(_ context.Context, o load.Options) (load.Driver, error) { return udp.New(o, cfg) }, "", nil
	}
	return nil, "", invalid("%s: unknown protocol %q", where, proto)
}
