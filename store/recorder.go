package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/smp-project/smp/load"
)

// recorderQueue is how many seconds may wait to be written: a minute of a
// database that stalls before a second is dropped.
const recorderQueue = 64

// Recorder saves the seconds of a running run as the engine reports them.
// The engine's collector calls Progress once a second and must not wait
// on a disk or a network, so the writes happen on a goroutine of the
// Recorder's own, in order.
type Recorder struct {
	s    Store
	id   string
	ch   chan Second
	done chan struct{}

	mu      sync.Mutex
	err     error // the first write that failed
	dropped int
}

// NewRecorder starts a Recorder for the stored run id. Close it.
func NewRecorder(s Store, id string) *Recorder {
	r := &Recorder{s: s, id: id, ch: make(chan Second, recorderQueue), done: make(chan struct{})}
	go r.write()
	return r
}

func (r *Recorder) write() {
	defer close(r.done)
	for sec := range r.ch {
		// Not the run's context: a cancelled run's last seconds are
		// still saved.
		if err := r.s.SaveSecond(context.Background(), r.id, sec); err != nil {
			r.fail(err)
		}
	}
}

func (r *Recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// Progress takes the engine's progress of run (1-based, of a series).
func (r *Recorder) Progress(run int, p load.Progress) {
	sec, ok, err := SecondOf(run, p)
	if err != nil {
		r.fail(err)
		return
	}
	if !ok {
		return
	}
	select {
	case r.ch <- sec:
	default:
		r.mu.Lock()
		r.dropped++
		r.mu.Unlock()
	}
}

// Close waits for the queued seconds to be written and returns the first
// error, if any write failed or a second was dropped.
func (r *Recorder) Close() error {
	close(r.ch)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil && r.dropped > 0 {
		return fmt.Errorf("store: %d seconds of run %s were not saved: the database was too slow", r.dropped, r.id)
	}
	return r.err
}
