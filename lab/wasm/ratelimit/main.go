//go:build wasip1

// Command ratelimit is a proxy-wasm HTTP filter: a local token-bucket rate
// limiter per key that behaves as smp proxy's native one (--filter
// ratelimit:...), for comparing a WebAssembly filter's cost with a native
// filter's. Its plugin configuration takes the native filter's
// parameters: "rate=R[,burst=B][,key=none|client|header:NAME][,status=S]".
// Buckets live in shared data, updated by compare-and-swap, so that every
// VM of the plugin (smp proxy --wasm-instances) draws on the same tokens.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ratelimit.wasm ./lab/wasm/ratelimit
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	pw "github.com/smp-project/smp/lab/wasm/proxywasm"
)

func main() {}

func init() { pw.SetRoot(&limiter{status: 429}) }

// maxCASTries bounds the compare-and-swap loop; VMs racing for one key
// that long is not expected, and the request is then limited.
const maxCASTries = 16

type limiter struct {
	rate, burst float64
	status      uint32
	byClient    bool
	keyHeader   string
	prefix      string // shared-data key prefix, per root id
}

func (l *limiter) OnConfigure(size int) bool {
	cfg, _ := pw.Buffer(pw.PluginConfig, 0, uint32(size))
	if err := l.parse(string(cfg)); err != nil {
		pw.Log(pw.LogError, "ratelimit: configuration "+strconv.Quote(string(cfg))+": "+err.Error())
		return false
	}
	root, _ := pw.Property("plugin_root_id")
	l.prefix = "smp.ratelimit/" + string(root) + "/"
	pw.Log(pw.LogInfo, fmt.Sprintf("ratelimit: %g/s, burst %g", l.rate, l.burst))
	return true
}

func (l *limiter) parse(cfg string) error {
	for kv := range strings.SplitSeq(cfg, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "rate":
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || !(r > 0 && r <= 1e9) {
				return fmt.Errorf("rate=%q: want requests per second > 0", v)
			}
			l.rate = r
		case "burst":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1e9 {
				return fmt.Errorf("burst=%q: want a whole number >= 1", v)
			}
			l.burst = float64(n)
		case "key":
			switch {
			case v == "none":
			case v == "client":
				l.byClient = true
			case strings.HasPrefix(v, "header:") && len(v) > len("header:"):
				l.keyHeader = strings.ToLower(v[len("header:"):])
			default:
				return fmt.Errorf("key=%q: want none, client or header:NAME", v)
			}
		case "status":
			n, err := strconv.Atoi(v)
			if err != nil || n < 200 || n > 599 {
				return fmt.Errorf("status=%q: want 200 to 599", v)
			}
			l.status = uint32(n)
		default:
			return fmt.Errorf("unknown parameter %q; allowed: rate, burst, key, status", k)
		}
	}
	if l.rate == 0 {
		return fmt.Errorf("rate=R is required")
	}
	if l.burst == 0 {
		l.burst = math.Max(1, math.Ceil(l.rate))
	}
	return nil
}

func (l *limiter) NewHTTPContext(uint32) pw.HTTPContext { return &exchange{l} }

type exchange struct{ l *limiter }

func (x *exchange) OnRequestHeaders(int, bool) pw.Action {
	l := x.l
	key := ""
	switch {
	case l.byClient:
		a, _ := pw.Property("source", "address")
		key = string(a)
		if i := strings.LastIndexByte(key, ':'); i >= 0 {
			key = strings.Trim(key[:i], "[]")
		}
	case l.keyHeader != "":
		key, _ = pw.Header(pw.RequestHeaders, l.keyHeader)
	}
	if l.take(key) {
		return pw.Continue
	}
	pw.SendLocalResponse(l.status, "ratelimit", []byte("rate limited\n"), [][2]string{{"content-type", "text/plain"}})
	return pw.Pause
}

// take is the native filter's token bucket (proxy/filter.Bucket.Take) on a
// bucket kept in shared data as two little-endian numbers: tokens
// (float64 bits) and the last refill time (Unix ns).
func (l *limiter) take(key string) bool {
	k := l.prefix + key
	for range maxCASTries {
		v, cas, st := pw.SharedData(k)
		var tokens float64
		var last int64
		if st == pw.StatusOK && len(v) == 16 {
			tokens = math.Float64frombits(binary.LittleEndian.Uint64(v))
			last = int64(binary.LittleEndian.Uint64(v[8:]))
		} else {
			cas = 0
		}
		now := pw.Now()
		if last == 0 {
			tokens = l.burst
		} else if el := now - last; el > 0 {
			tokens = math.Min(l.burst, tokens+float64(el)*l.rate/1e9)
		}
		last = max(last, now)
		ok := tokens >= 1
		if ok {
			tokens--
		}
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(tokens))
		binary.LittleEndian.PutUint64(b[8:], uint64(last))
		switch pw.SetSharedData(k, b[:], cas) {
		case pw.StatusOK:
			return ok
		case pw.StatusCas:
			continue
		default:
			return false
		}
	}
	return false
}
