package filter

import (
	"fmt"
	"net/http"
	"strings"
)

// HeaderRules adds, sets and removes request and response headers.
type HeaderRules struct {
	name     string
	req, res headerOps
}

type headerOps struct {
	remove   []string
	set, add [][2]string
}

func (o *headerOps) apply(h http.Header) {
	for _, k := range o.remove {
		h.Del(k)
	}
	for _, kv := range o.set {
		h.Set(kv[0], kv[1])
	}
	for _, kv := range o.add {
		h.Add(kv[0], kv[1])
	}
}

func newHeaderRules(name string, ps []param) (*HeaderRules, error) {
	f := &HeaderRules{name: name}
	if len(ps) == 0 {
		return nil, fmt.Errorf("no rules; want request-set=NAME:VALUE and the like")
	}
	for _, p := range ps {
		dir, op, _ := strings.Cut(p.key, "-")
		var ops *headerOps
		switch dir {
		case "request":
			ops = &f.req
		case "response":
			ops = &f.res
		}
		if ops == nil || (op != "set" && op != "add" && op != "remove") {
			return nil, unknownParam(p, "request-set", "request-add", "request-remove", "response-set", "response-add", "response-remove")
		}
		if op == "remove" {
			k, err := parseHeaderName(p.key, p.value)
			if err != nil {
				return nil, err
			}
			ops.remove = append(ops.remove, k)
			continue
		}
		k, v, ok := strings.Cut(p.value, ":")
		if !ok {
			return nil, fmt.Errorf("%s=%q: want NAME:VALUE", p.key, p.value)
		}
		k, err := parseHeaderName(p.key, k)
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("%s=%q: a header value may not hold CR, LF or NUL", p.key, p.value)
		}
		kv := [2]string{k, strings.TrimSpace(v)}
		if op == "set" {
			ops.set = append(ops.set, kv)
		} else {
			ops.add = append(ops.add, kv)
		}
	}
	return f, nil
}

func (f *HeaderRules) Name() string { return f.name }

func (f *HeaderRules) Request(x *Exchange) (any, error) {
	f.req.apply(x.Header)
	return nil, nil
}

func (f *HeaderRules) Response(x *Exchange, _ any) error {
	f.res.apply(x.RespHeader)
	return nil
}

func (f *HeaderRules) Done(*Exchange, any) {}
