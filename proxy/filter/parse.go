package filter

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Syntax is the --filter grammar, for help texts and errors.
const Syntax = `KIND:PARAM=VALUE,PARAM=VALUE,... (values may not contain commas):
  ratelimit:rate=R[,burst=B][,key=none|client|header:NAME][,status=429]
      token bucket per key: R requests/s, B tokens (default: R rounded up);
      beyond it a local answer (429). key=client keys by client IP;
      header:NAME by that header's value (absent: one shared key).
  header:request-set=NAME:V,request-add=NAME:V,request-remove=NAME,
         response-set=NAME:V,response-add=NAME:V,response-remove=NAME
      header rules (each may repeat); per direction: remove, set, add.
  fault:[delay=D][,abort=STATUS][,percent=P][,delay-percent=P][,abort-percent=P]
      delay D (Go duration, up to 1m) and/or a local answer STATUS, each for
      P% of requests (default 100).
  auth:value=V[,header=NAME]
      require header NAME (default authorization) to equal V exactly:
      absent 401, different 403.`

// kinds lists the native filter kinds, for errors.
const kinds = "ratelimit, header, fault, auth"

// SyntaxError is a --filter value that does not parse; Error names the
// value and what is allowed.
type SyntaxError struct {
	Spec string
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%q: %s", e.Spec, e.Msg) }

// Parse makes a native filter from its --filter text; pos (from 1) is its
// position in the chain, which goes into its Name.
func Parse(spec string, pos int) (Filter, error) {
	kind, rest, _ := strings.Cut(strings.TrimSpace(spec), ":")
	bad := func(format string, a ...any) error {
		return &SyntaxError{Spec: spec, Msg: fmt.Sprintf(format, a...)}
	}
	params, err := splitParams(rest)
	if err != nil {
		return nil, bad("%v", err)
	}
	name := fmt.Sprintf("%s#%d", kind, pos)
	var f Filter
	switch kind {
	case "ratelimit":
		f, err = newRateLimit(name, params)
	case "header":
		f, err = newHeaderRules(name, params)
	case "fault":
		f, err = newFault(name, params)
	case "auth":
		f, err = newAuth(name, params)
	default:
		return nil, bad("unknown filter kind %q; want one of %s (KIND:PARAM=VALUE,...)", kind, kinds)
	}
	if err != nil {
		return nil, bad("%v", err)
	}
	return f, nil
}

type param struct{ key, value string }

func splitParams(s string) ([]param, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ps []param
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not PARAM=VALUE", kv)
		}
		ps = append(ps, param{k, strings.TrimSpace(v)})
	}
	return ps, nil
}

func unknownParam(p param, allowed ...string) error {
	return fmt.Errorf("unknown parameter %q; allowed: %s", p.key, strings.Join(allowed, ", "))
}

// ParseRate reads a rate in requests per second (> 0, finite).
func parseRate(v string) (float64, error) {
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) || r > 1e9 {
		return 0, fmt.Errorf("rate=%q: want requests per second, a number > 0 and <= 1e9", v)
	}
	return r, nil
}

func parseStatus(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 200 || n > 599 {
		return 0, fmt.Errorf("%s=%q: want an HTTP status from 200 to 599", name, v)
	}
	return n, nil
}

func parsePercent(name, v string) (float64, error) {
	p, err := strconv.ParseFloat(v, 64)
	if err != nil || !(p >= 0 && p <= 100) {
		return 0, fmt.Errorf("%s=%q: want a percentage from 0 to 100", name, v)
	}
	return p, nil
}

// parseHeaderName accepts an HTTP field name (RFC 9110 token characters).
func parseHeaderName(param, v string) (string, error) {
	if v == "" || strings.IndexFunc(v, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
		return "", fmt.Errorf("%s=%q: want a header name (letters, digits, -, _ ...)", param, v)
	}
	return http.CanonicalHeaderKey(v), nil
}

func isTokenChar(r rune) bool {
	return r < 127 && r > 32 && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

func parseDelay(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > time.Minute {
		return 0, fmt.Errorf("delay=%q: want a Go duration from 0 to 1m, e.g. 5ms", v)
	}
	return d, nil
}
