package target

import (
	"fmt"
	"net/url"
	"strings"
)

// headerPrefix marks the per-request override headers and gRPC metadata
// keys: x-smp-delay, x-smp-size, x-smp-status, x-smp-error, x-smp-echo.
const headerPrefix = "x-smp-"

// unknownHeader names the response header (and gRPC header metadata) that
// lists parameters the target did not recognise, so that a typo such as
// ?dealy=2ms is noticed instead of silently doing nothing.
const unknownHeader = "X-Smp-Unknown-Params"

// maxUnknown bounds the unknown-parameter list echoed back to the client.
const maxUnknown = 16

// unknownList gathers unrecognised parameter names, escaped so that they
// are safe in a header value whatever the client sent.
type unknownList []string

func (u *unknownList) add(name string) {
	if len(*u) >= maxUnknown {
		return
	}
	esc := url.QueryEscape(name)
	for _, have := range *u {
		if have == esc {
			return
		}
	}
	*u = append(*u, esc)
}

func (u unknownList) String() string { return strings.Join(u, ",") }

// applyHeader applies one header or metadata entry. Names outside the
// x-smp- prefix are ordinary headers and are ignored; x-smp- names that are
// not parameters are reported as unknown.
func applyHeader(b *Behavior, name, value string, unknown *unknownList) error {
	if len(name) < len(headerPrefix) || !strings.EqualFold(name[:len(headerPrefix)], headerPrefix) {
		return nil
	}
	param := strings.ToLower(name[len(headerPrefix):])
	if paramIndex(param) < 0 {
		unknown.add(strings.ToLower(name))
		return nil
	}
	if err := b.Set(param, value); err != nil {
		return fmt.Errorf("header %s%s: %w", headerPrefix, param, err)
	}
	return nil
}

// applyQuery applies the parameters of a raw (still escaped) query string.
// It is called after the headers: a query parameter wins over a header,
// being the more specific of the two.
func applyQuery(b *Behavior, rawQuery string, unknown *unknownList) error {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return fmt.Errorf("query parameter %q: bad escape: %w", k, err)
		}
		if key == "" {
			continue
		}
		if paramIndex(key) < 0 {
			unknown.add(key)
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return fmt.Errorf("query parameter %s: bad escape: %w", key, err)
		}
		if err := b.Set(key, val); err != nil {
			return fmt.Errorf("query parameter %s: %w", key, err)
		}
	}
	return nil
}
