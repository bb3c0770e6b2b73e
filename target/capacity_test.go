package target

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	targetpb "github.com/smp-project/smp/target/proto"
)

// fire sends n concurrent requests over protocol proto and returns how many
// were accepted and how many rejected. Every request must be one or the
// other.
func fire(t *testing.T, s *Server, proto string, n int) (accepted, rejected int) {
	t.Helper()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	record := func(ok bool, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			accepted++
		default:
			rejected++
		}
	}
	var do func() (bool, error)
	switch proto {
	case "http1", "h2c":
		c, base := httpClient(t, proto, s)
		do = func() (bool, error) {
			resp, err := c.Get(base + "/")
			if err != nil {
				return false, err
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			switch resp.StatusCode {
			case http.StatusOK:
				return true, nil
			case http.StatusServiceUnavailable:
				return false, nil
			}
			return false, errors.New(resp.Status)
		}
	case "grpc":
		_, client := grpcClient(t, s)
		do = func() (bool, error) {
			_, err := client.Echo(context.Background(), &targetpb.EchoRequest{})
			switch status.Code(err) {
			case codes.OK:
				return true, nil
			case codes.Unavailable:
				return false, nil
			}
			return false, err
		}
	case "tcp":
		do = func() (bool, error) {
			c, err := net.Dial("tcp", s.Addrs().TCP)
			if err != nil {
				return false, err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte("x")); err != nil {
				return false, err
			}
			_, err = c.Read(make([]byte, 1))
			if errors.Is(err, syscall.ECONNRESET) {
				return false, nil
			}
			return err == nil, err
		}
	}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			record(do())
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d requests failed otherwise, first: %v", len(errs), errs[0])
	}
	return accepted, rejected
}

// TestCapacity drives known overloads: 10 concurrent requests that each
// hold a slot for 500 ms all arrive while the first ones still run.
func TestCapacity(t *testing.T) {
	slow := Behavior{Delay: FixedDelay(500 * time.Millisecond)}
	tests := []struct {
		name               string
		capacity, queue    int
		rps                float64
		accepted, rejected int
	}{
		{"capacity with queue", 2, 3, 0, 5, 5},
		{"capacity rejecting at once", 2, 0, 0, 2, 8},
		{"rate with queue", 0, 2, 4, 3, 7}, // burst 1, then a token per 250 ms
		{"rate rejecting at once", 0, 0, 1, 1, 9},
	}
	for _, proto := range []string{"http1", "h2c", "grpc"} {
		for _, tt := range tests {
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				s := startTarget(t, Config{HTTP: anyPort, GRPC: anyPort, Defaults: slow, Capacity: tt.capacity, Queue: tt.queue, MaxRPS: tt.rps})
				acc, rej := fire(t, s, proto, 10)
				if acc != tt.accepted || rej != tt.rejected {
					t.Errorf("accepted %d, rejected %d; want %d and %d", acc, rej, tt.accepted, tt.rejected)
				}
				st := s.Stats()
				if got := st.Rejected[protoName(proto)]; got != uint64(tt.rejected) {
					t.Errorf("rejected counter %d, want %d", got, tt.rejected)
				}
				if st.InFlight != 0 || st.QueueLength != 0 {
					t.Errorf("after the run: in flight %d, queued %d", st.InFlight, st.QueueLength)
				}
			})
		}
	}
	t.Run("tcp", func(t *testing.T) {
		t.Parallel()
		s := startTarget(t, Config{TCP: anyPort, Defaults: slow, Capacity: 1, Queue: 1})
		if acc, rej := fire(t, s, "tcp", 5); acc != 2 || rej != 3 {
			t.Errorf("accepted %d, rejected %d; want 2 and 3", acc, rej)
		}
	})
}

// TestQueueGauge watches the queue fill while an overload is under way.
func TestQueueGauge(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort, Capacity: 1, Queue: 2, Defaults: Behavior{Delay: FixedDelay(300 * time.Millisecond)}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		fire(t, s, "http1", 3)
	}()
	sawQueue, sawInFlight := false, false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !(sawQueue && sawInFlight); {
		st := s.Stats()
		sawQueue = sawQueue || st.QueueLength == 2
		sawInFlight = sawInFlight || st.InFlight == 1
		time.Sleep(time.Millisecond)
	}
	<-done
	if !sawQueue || !sawInFlight {
		t.Errorf("saw queue length 2: %v, in flight 1: %v", sawQueue, sawInFlight)
	}
}

func protoName(flavour string) string {
	if flavour == "h2c" {
		return "http2"
	}
	return flavour
}

func TestAdmissionCancel(t *testing.T) {
	a := newAdmission(1, 0, 1)
	if !a.acquire(nil, nil) {
		t.Fatal("first acquire rejected")
	}
	cancel := make(chan struct{})
	got := make(chan bool)
	go func() { got <- a.acquire(cancel, nil) }()
	for a.queued() != 1 {
		time.Sleep(time.Millisecond)
	}
	close(cancel)
	if <-got {
		t.Error("cancelled waiter was admitted")
	}
	if a.queued() != 0 {
		t.Errorf("queue length %d after cancel", a.queued())
	}
	a.release()
	if !a.acquire(nil, nil) {
		t.Error("slot not free after release")
	}
}
