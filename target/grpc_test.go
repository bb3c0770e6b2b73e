package target

import (
	"bytes"
	"context"
	"errors"
	"github.com/smp-project/smp/internal/race"
	"io"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	targetpb "github.com/smp-project/smp/target/proto"
)

func TestGRPCBehaviour(t *testing.T) {
	s := startTarget(t, Config{GRPC: anyPort, Defaults: Behavior{Size: 7}})
	_, client := grpcClient(t, s)
	tests := []struct {
		name    string
		md      []string // metadata pairs
		payload string
		code    codes.Code
		size    int
		unknown string
	}{
		{name: "defaults", code: codes.OK, size: 7},
		{name: "size", md: []string{"x-smp-size", "1024"}, code: codes.OK, size: 1024},
		{name: "large size", md: []string{"x-smp-size", "100000"}, code: codes.OK, size: 100000},
		{name: "echo", md: []string{"x-smp-echo", "true"}, payload: "hello", code: codes.OK, size: 5},
		{name: "status 503", md: []string{"x-smp-status", "503"}, code: codes.Unavailable},
		{name: "status 404", md: []string{"x-smp-status", "404"}, code: codes.NotFound},
		{name: "status 201 is OK", md: []string{"x-smp-status", "201"}, code: codes.OK, size: 7},
		{name: "status 418 unknown", md: []string{"x-smp-status", "418"}, code: codes.Unknown},
		{name: "error", md: []string{"x-smp-error", "1"}, code: codes.Internal},
		{name: "bad size", md: []string{"x-smp-size", "-1"}, code: codes.InvalidArgument},
		{name: "bad delay", md: []string{"x-smp-delay", "weibull:1ms"}, code: codes.InvalidArgument},
		{name: "unknown", md: []string{"x-smp-dealy", "1ms", "other", "x"}, code: codes.OK, size: 7, unknown: "x-smp-dealy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs(tt.md...))
			var hdr metadata.MD
			resp, err := client.Echo(ctx, &targetpb.EchoRequest{Payload: []byte(tt.payload)}, grpc.Header(&hdr))
			if got := status.Code(err); got != tt.code {
				t.Fatalf("code %v (%v), want %v", got, err, tt.code)
			}
			if err == nil && len(resp.GetPayload()) != tt.size {
				t.Errorf("payload of %d bytes, want %d", len(resp.GetPayload()), tt.size)
			}
			if got := hdr.Get("x-smp-unknown-params"); tt.unknown != "" && (len(got) != 1 || got[0] != tt.unknown) {
				t.Errorf("unknown params %q, want %q", got, tt.unknown)
			}
		})
	}
}

func TestGRPCFixedDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	s := startTarget(t, Config{GRPC: anyPort, Defaults: Behavior{Delay: FixedDelay(delay)}})
	_, client := grpcClient(t, s)
	ctx := context.Background()
	if _, err := client.Echo(metadata.AppendToOutgoingContext(ctx, "x-smp-delay", "0"), &targetpb.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
	var lat []time.Duration
	for range 30 {
		start := time.Now()
		if _, err := client.Echo(ctx, &targetpb.EchoRequest{}); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	// The delay is a floor; above it is the client's and the scheduler's
	// time, which the race detector multiplies.
	slack := delay / 10
	if race.Enabled {
		slack = delay / 4
	}
	if lat[0] < delay || lat[len(lat)/2] > delay+slack {
		t.Errorf("latencies from %v, median %v; want >= %v, median within %v", lat[0], lat[len(lat)/2], delay, slack)
	}
}

func TestGRPCStream(t *testing.T) {
	s := startTarget(t, Config{GRPC: anyPort, Defaults: Behavior{Size: 3, Delay: FixedDelay(5 * time.Millisecond)}})
	_, client := grpcClient(t, s)
	start := time.Now()
	stream, err := client.Stream(context.Background(), &targetpb.StreamRequest{Count: 4})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(m.GetPayload()) != 3 {
			t.Errorf("message of %d bytes", len(m.GetPayload()))
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d messages, want 4", n)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Errorf("4 messages at 5ms each in %v", el)
	}
	// A failing stream ends with the injected error.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-smp-error", "1")
	stream, err = client.Stream(ctx, &targetpb.StreamRequest{Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Internal {
		t.Errorf("failing stream: %v, want INTERNAL", err)
	}
}

func TestGRPCReset(t *testing.T) {
	s := startTarget(t, Config{GRPC: anyPort})
	_, client := grpcClient(t, s)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-smp-error", "reset:1")
	_, err := client.Echo(ctx, &targetpb.EchoRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("reset call: %v, want UNAVAILABLE", err)
	}
	if got := s.Stats().Resets["grpc"]; got != 1 {
		t.Errorf("resets counted %d, want 1", got)
	}
	// The client reconnects and goes on.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := client.Echo(context.Background(), &targetpb.EchoRequest{}, grpc.WaitForReady(true))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after reset: %v", err)
		}
	}
}

// TestGRPCStockClients asks the health and reflection services with
// grpc-go's own generated clients.
func TestGRPCStockClients(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		s := startTarget(t, Config{GRPC: anyPort, TLS: useTLS})
		var cc *grpc.ClientConn
		if useTLS {
			creds := credentials.NewClientTLSFromCert(certPool(t, s), "")
			var err error
			cc, err = grpc.NewClient(s.Addrs().GRPC, grpc.WithTransportCredentials(creds))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cc.Close() })
		} else {
			cc, _ = grpcClient(t, s)
		}
		ctx := context.Background()
		h := healthpb.NewHealthClient(cc)
		for _, svc := range []string{"", "smp.target.v1.Echo"} {
			resp, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("tls=%v health %q: %v, %v", useTLS, svc, resp.GetStatus(), err)
			}
		}
		rc, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		resp, err := rc.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, svc := range resp.GetListServicesResponse().GetService() {
			names = append(names, svc.GetName())
		}
		for _, want := range []string{"smp.target.v1.Echo", "grpc.health.v1.Health"} {
			if !slices.Contains(names, want) {
				t.Errorf("tls=%v reflection lists %v, missing %s", useTLS, names, want)
			}
		}
		// The file descriptor of our service resolves too.
		if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "smp.target.v1.Echo"}}); err != nil {
			t.Fatal(err)
		}
		if resp, err := rc.Recv(); err != nil || len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
			t.Errorf("tls=%v reflection of smp.target.v1.Echo: %v, %v", useTLS, resp, err)
		}
		_ = rc.CloseSend()
		if useTLS {
			if _, err := targetpb.NewEchoClient(cc).Echo(ctx, &targetpb.EchoRequest{Payload: []byte("x")}); err != nil {
				t.Errorf("echo over TLS: %v", err)
			}
		}
	}
}

func TestGRPCEchoLarge(t *testing.T) {
	s := startTarget(t, Config{GRPC: anyPort, Defaults: Behavior{Echo: true}})
	_, client := grpcClient(t, s)
	payload := bytes.Repeat([]byte{1, 2, 3}, 2<<20) // 6 MiB, over gRPC's 4 MiB default
	resp, err := client.Echo(context.Background(), &targetpb.EchoRequest{Payload: payload}, grpc.MaxCallRecvMsgSize(16<<20))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.GetPayload(), payload) {
		t.Error("echo differs")
	}
}
