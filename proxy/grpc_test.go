package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/smp-project/smp/target"
	targetpb "github.com/smp-project/smp/target/proto"
)

// TestGRPCThroughProxy: grpc-go's client through smp proxy (h2c both
// sides) to the target's grpc-go server: a unary call and its status
// (carried in trailers), an error status, a server stream whose messages
// arrive as they are sent, and reflection (a bidirectional stream).
func TestGRPCThroughProxy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := target.Start(ctx, target.Config{GRPC: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p := startProxy(t, "h2c://"+srv.Addrs().GRPC)
	cc, err := grpc.NewClient(p.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	echo := targetpb.NewEchoClient(cc)

	res, err := echo.Echo(ctx, &targetpb.EchoRequest{Payload: []byte("hi")})
	if err != nil {
		t.Fatalf("unary call through the proxy: %v", err)
	}
	_ = res

	nf := metadata.AppendToOutgoingContext(ctx, "x-smp-status", "404")
	if _, err := echo.Echo(nf, &targetpb.EchoRequest{}); status.Code(err) != codes.NotFound {
		t.Errorf("x-smp-status 404: %v, want NotFound (the status in the trailers)", err)
	}

	// A server stream of 3 messages 300 ms apart: each must reach the
	// client before the next is sent, not all at the end.
	delayed := metadata.AppendToOutgoingContext(ctx, "x-smp-delay", "300ms")
	st, err := echo.Stream(delayed, &targetpb.StreamRequest{Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	var arrivals []time.Duration
	start := time.Now()
	for {
		_, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		arrivals = append(arrivals, time.Since(start))
	}
	// Held back until the end, they would arrive together.
	if len(arrivals) != 3 || arrivals[2]-arrivals[0] < 400*time.Millisecond {
		t.Errorf("stream messages arrived at %v, want 3 spread over the stream, the first well before the last", arrivals)
	}

	refl, err := rpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := refl.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	got, err := refl.Recv()
	if err != nil {
		t.Fatalf("reflection through the proxy: %v", err)
	}
	var names []string
	for _, s := range got.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), "smp.target.v1.Echo") {
		t.Errorf("reflection listed %v", names)
	}
	refl.CloseSend()

	if st := p.Stats(); st.Forwarded < 4 || st.UpstreamErrors != 0 {
		t.Errorf("proxy stats %+v", st)
	}
}

// TestTrailersHTTP1: an upstream's trailers reach an HTTP/1.1 client of a
// chunked response, and an HTTP/2 one.
func TestTrailersHTTP1(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.WriteHeader(200)
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set(http.TrailerPrefix+"X-Late", "undeclared")
	}))
	defer up.Close()
	p := startProxy(t, up.URL)
	for name, c := range map[string]*http.Client{"HTTP/1.1": h1(), "h2c": h2c()} {
		resp, err := c.Get("http://" + p.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "body" || resp.Trailer.Get("X-Checksum") != "abc" || resp.Trailer.Get("X-Late") != "undeclared" {
			t.Errorf("%s: body %q, trailers %v", name, b, resp.Trailer)
		}
	}
}
