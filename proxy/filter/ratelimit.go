package filter

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxKeys bounds the buckets a rate limiter keeps. Beyond it, buckets that
// have refilled (and so hold no state worth keeping) are dropped; if none
// has, new keys share one overflow bucket, so memory stays bounded whatever
// keys clients send.
const MaxKeys = 1 << 16

// RateLimit is a local token-bucket rate limiter per key.
type RateLimit struct {
	name   string
	rate   float64 // tokens per second
	burst  float64
	status int
	// keyHeader is the header keyed by; "" with byClient false is one
	// global bucket.
	keyHeader string
	byClient  bool
	now       func() time.Time

	mu       sync.Mutex
	buckets  map[string]*Bucket
	overflow Bucket
}

// Bucket is a token bucket: Tokens at Last (Unix ns). The WebAssembly
// rate limiter in lab/wasm/ratelimit keeps the same two numbers.
type Bucket struct {
	Tokens float64
	Last   int64
}

// Take refills the bucket for the time since Last and takes one token if
// there is one.
func (b *Bucket) Take(now int64, rate, burst float64) bool {
	if b.Last == 0 {
		b.Tokens = burst
	} else if el := now - b.Last; el > 0 {
		b.Tokens = math.Min(burst, b.Tokens+float64(el)*rate/1e9)
	}
	b.Last = max(b.Last, now)
	if b.Tokens >= 1 {
		b.Tokens--
		return true
	}
	return false
}

func newRateLimit(name string, ps []param) (*RateLimit, error) {
	f := &RateLimit{name: name, status: http.StatusTooManyRequests, now: time.Now, buckets: map[string]*Bucket{}}
	var err error
	haveRate := false
	for _, p := range ps {
		switch p.key {
		case "rate":
			f.rate, err = parseRate(p.value)
			haveRate = true
		case "burst":
			n, e := strconv.Atoi(p.value)
			if e != nil || n < 1 || n > 1e9 {
				err = fmt.Errorf("burst=%q: want a whole number of requests from 1 to 1e9", p.value)
			}
			f.burst = float64(n)
		case "key":
			switch {
			case p.value == "none":
			case p.value == "client":
				f.byClient = true
			case strings.HasPrefix(p.value, "header:"):
				f.keyHeader, err = parseHeaderName("key=header", strings.TrimPrefix(p.value, "header:"))
			default:
				err = fmt.Errorf("key=%q: want none, client or header:NAME", p.value)
			}
		case "status":
			f.status, err = parseStatus("status", p.value)
		default:
			err = unknownParam(p, "rate", "burst", "key", "status")
		}
		if err != nil {
			return nil, err
		}
	}
	if !haveRate {
		return nil, fmt.Errorf("rate=R is required (requests per second)")
	}
	if f.burst == 0 {
		f.burst = math.Max(1, math.Ceil(f.rate))
	}
	return f, nil
}

func (f *RateLimit) Name() string { return f.name }

func (f *RateLimit) key(x *Exchange) string {
	switch {
	case f.byClient:
		return x.Client.Addr().String()
	case f.keyHeader != "":
		return x.Header.Get(f.keyHeader)
	}
	return ""
}

// Allow takes a token for key at now and says whether there was one.
func (f *RateLimit) Allow(key string, now time.Time) bool {
	ns := now.UnixNano()
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.buckets[key]
	if b == nil {
		if len(f.buckets) >= MaxKeys {
			f.sweep(ns)
		}
		if len(f.buckets) >= MaxKeys {
			return f.overflow.Take(ns, f.rate, f.burst)
		}
		b = &Bucket{}
		f.buckets[key] = b
	}
	return b.Take(ns, f.rate, f.burst)
}

// sweep drops the buckets that would be full by now: a new bucket starts
// full, so forgetting them changes no answer.
func (f *RateLimit) sweep(now int64) {
	for k, b := range f.buckets {
		if b.Tokens+float64(now-b.Last)*f.rate/1e9 >= f.burst {
			delete(f.buckets, k)
		}
	}
}

func (f *RateLimit) Request(x *Exchange) (any, error) {
	if !f.Allow(f.key(x), f.now()) {
		h := http.Header{"Content-Type": {"text/plain"}, "X-Smp-Local-Reply": {f.name}}
		x.Respond(f.status, h, []byte("rate limited\n"))
	}
	return nil, nil
}

func (f *RateLimit) Response(*Exchange, any) error { return nil }
func (f *RateLimit) Done(*Exchange, any)           {}
