package load

import (
	"fmt"
	"net"
	"net/url"
)

// ParseHTTPURL parses an http:// or https:// endpoint URL for an HTTP
// driver and returns it with the host:port to dial (port 80 or 443 when
// the URL gives none).
func ParseHTTPURL(raw string) (u *url.URL, addr string, err error) {
	u, err = url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("parse URL: %w", err)
	}
	var port string
	switch u.Scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	default:
		return nil, "", fmt.Errorf("unsupported URL scheme %q in %q (want http or https)", u.Scheme, u.Redacted())
	}
	if u.Hostname() == "" {
		return nil, "", fmt.Errorf("URL %q has no host", u.Redacted())
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return u, net.JoinHostPort(u.Hostname(), port), nil
}
