package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/smp-project/smp/spec"
)

// allowList is where runs may send load.
type allowList struct {
	prefixes []netip.Prefix
	names    map[string]bool
	shown    string // for error messages
}

func newAllowList(entries []string) (*allowList, error) {
	if len(entries) == 0 {
		entries = []string{"127.0.0.0/8", "::1/128", "localhost"}
	}
	a := &allowList{names: map[string]bool{}, shown: strings.Join(entries, ", ")}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			return nil, fmt.Errorf("server: an empty --allow-target")
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("server: --allow-target %q: %w", e, err)
			}
			a.prefixes = append(a.prefixes, p.Masked())
		default:
			if ip, err := netip.ParseAddr(e); err == nil {
				a.prefixes = append(a.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
				continue
			}
			a.names[strings.ToLower(e)] = true
		}
	}
	return a, nil
}

func (a *allowList) ip(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// targetError is a target outside the allow-list (403).
type targetError struct{ msg string }

func (e *targetError) Error() string { return e.msg }

// check refuses a config with an endpoint outside the list. A host name
// is allowed by name, or when every address it resolves to is allowed.
// (The engine resolves the name again when it connects; a name whose
// owner can change its answers should be allowed by name only if
// trusted.)
func (a *allowList) check(ctx context.Context, cfg *spec.PerformanceTestConfig) error {
	for i, c := range cfg.GetClients() {
		for j, ep := range c.GetEndpointUrls() {
			path := fmt.Sprintf("clients[%d].endpoint_urls[%d]", i, j)
			u, err := url.Parse(ep)
			if err != nil || u.Hostname() == "" {
				return fmt.Errorf("%s: %q is not a URL with a host", path, ep)
			}
			host := strings.ToLower(u.Hostname())
			if a.names[host] {
				continue
			}
			if ip, err := netip.ParseAddr(host); err == nil {
				if !a.ip(ip) {
					return &targetError{fmt.Sprintf("%s: %s is not in the allowed targets (%s); smp serve --allow-target adds one", path, host, a.shown)}
				}
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
			cancel()
			if err != nil || len(addrs) == 0 {
				return &targetError{fmt.Sprintf("%s: %s is not in the allowed targets (%s) and does not resolve: %v", path, host, a.shown, err)}
			}
			for _, ip := range addrs {
				if !a.ip(ip) {
					return &targetError{fmt.Sprintf("%s: %s resolves to %s, not in the allowed targets (%s); smp serve --allow-target adds one", path, host, ip, a.shown)}
				}
			}
		}
	}
	return nil
}
