package wasm

import "sync"

// MaxSharedKeys and MaxSharedBytes bound the shared-data store, whatever
// modules write into it.
const (
	MaxSharedKeys  = 1 << 16
	MaxSharedBytes = 64 << 20
)

// SharedData is the proxy-wasm shared key-value store: values with a
// compare-and-swap number, shared by every VM of the plugins given it.
type SharedData struct {
	mu    sync.Mutex
	m     map[string]sharedValue
	bytes int
}

type sharedValue struct {
	v   []byte
	cas uint32
}

// NewSharedData returns an empty store.
func NewSharedData() *SharedData { return &SharedData{m: map[string]sharedValue{}} }

// Get returns a key's value and CAS number.
func (d *SharedData) Get(k string) ([]byte, uint32, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[k]
	return e.v, e.cas, ok
}

// Set stores v under k if cas is 0 or the key's current CAS number (else
// StatusCasMismatch); every store gives the key a new CAS number.
func (d *SharedData) Set(k string, v []byte, cas uint32) Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[k]
	if cas != 0 && (!ok || cas != e.cas) {
		return StatusCasMismatch
	}
	grow := len(v) - len(e.v)
	if !ok {
		grow += len(k)
		if len(d.m) >= MaxSharedKeys {
			return StatusInternalFailure
		}
	}
	if d.bytes+grow > MaxSharedBytes {
		return StatusInternalFailure
	}
	d.bytes += grow
	next := e.cas + 1
	if next == 0 {
		next = 1 // 0 means "no CAS" to Set
	}
	d.m[k] = sharedValue{v: v, cas: next}
	return StatusOK
}
