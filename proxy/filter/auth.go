package filter

import (
	"crypto/subtle"
	"fmt"
	"net/http"
)

// Auth requires a header to hold a given value (a bearer token, an API key).
type Auth struct {
	name, header string
	value        []byte
}

func newAuth(name string, ps []param) (*Auth, error) {
	f := &Auth{name: name, header: "Authorization"}
	var err error
	for _, p := range ps {
		switch p.key {
		case "header":
			f.header, err = parseHeaderName("header", p.value)
		case "value":
			f.value = []byte(p.value)
		default:
			err = unknownParam(p, "header", "value")
		}
		if err != nil {
			return nil, err
		}
	}
	if len(f.value) == 0 {
		return nil, fmt.Errorf("value=V is required (the exact header value to accept, e.g. value=Bearer s3cret)")
	}
	return f, nil
}

func (f *Auth) Name() string { return f.name }

func (f *Auth) Request(x *Exchange) (any, error) {
	vs := x.Header.Values(f.header)
	status := 0
	switch {
	case len(vs) == 0:
		status = http.StatusUnauthorized
	case len(vs) > 1 || subtle.ConstantTimeCompare([]byte(vs[0]), f.value) != 1:
		// Compared in constant time so that the answer's timing does not
		// tell how much of a guess was right.
		status = http.StatusForbidden
	}
	if status != 0 {
		h := http.Header{"Content-Type": {"text/plain"}, "X-Smp-Local-Reply": {f.name}}
		x.Respond(status, h, []byte(http.StatusText(status)+"\n"))
	}
	return nil, nil
}

func (f *Auth) Response(*Exchange, any) error { return nil }
func (f *Auth) Done(*Exchange, any)           {}
