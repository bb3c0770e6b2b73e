package target

import (
	"context"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	targetpb "github.com/smp-project/smp/target/proto"
)

// maxStreamMessages bounds StreamRequest.count.
const maxStreamMessages = 1_000_000

// grpcService implements smp.target.v1.Echo with the shared behaviour.
type grpcService struct {
	targetpb.UnimplementedEchoServer
	s *Server
}

func (g *grpcService) Echo(ctx context.Context, req *targetpb.EchoRequest) (*targetpb.EchoResponse, error) {
	g.s.gaps[listenGRPC].arrive()
	b, err := g.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer g.end()
	if err := g.step(ctx, &b); err != nil {
		return nil, err
	}
	g.s.counters.count(protoGRPC, int(codes.OK))
	return &targetpb.EchoResponse{Payload: g.payload(&b, req.GetPayload())}, nil
}

func (g *grpcService) Stream(req *targetpb.StreamRequest, stream grpc.ServerStreamingServer[targetpb.EchoResponse]) error {
	g.s.gaps[listenGRPC].arrive() // one arrival per call, not per message
	n := int(req.GetCount())
	if n == 0 {
		n = 1
	}
	if n > maxStreamMessages {
		g.s.counters.count(protoGRPC, int(codes.InvalidArgument))
		return status.Errorf(codes.InvalidArgument, "smp target: count %d: at most %d messages", n, maxStreamMessages)
	}
	ctx := stream.Context()
	b, err := g.begin(ctx)
	if err != nil {
		return err
	}
	defer g.end()
	for range n {
		if err := g.step(ctx, &b); err != nil {
			return err
		}
		if err := stream.Send(&targetpb.EchoResponse{Payload: g.payload(&b, req.GetPayload())}); err != nil {
			return err
		}
	}
	g.s.counters.count(protoGRPC, int(codes.OK))
	return nil
}

// begin resolves the call's behaviour from its metadata, answers a
// non-2xx status at once, and admits the call; on success the caller must
// call end.
func (g *grpcService) begin(ctx context.Context) (Behavior, error) {
	s := g.s
	b := s.defaults.Load().b
	var unknown unknownList
	md, _ := metadata.FromIncomingContext(ctx)
	for k, vs := range md {
		if len(vs) == 0 {
			continue
		}
		if err := applyHeader(&b, k, vs[len(vs)-1], &unknown); err != nil {
			s.counters.count(protoGRPC, int(codes.InvalidArgument))
			return b, status.Error(codes.InvalidArgument, "smp target: "+err.Error())
		}
	}
	if len(unknown) > 0 {
		_ = grpc.SetHeader(ctx, metadata.Pairs(strings.ToLower(unknownHeader), unknown.String()))
	}
	if s.adm != nil && !s.adm.acquire(ctx.Done(), s.done) {
		if ctx.Err() != nil {
			return b, status.FromContextError(ctx.Err()).Err()
		}
		s.counters.rejected[protoGRPC].Add(1)
		s.counters.count(protoGRPC, int(codes.Unavailable))
		return b, status.Error(codes.Unavailable, strings.TrimSpace(rejectMessage))
	}
	s.counters.inFlight.Add(1)
	return b, nil
}

func (g *grpcService) end() {
	g.s.counters.inFlight.Add(-1)
	if g.s.adm != nil {
		g.s.adm.release()
	}
}

// step waits out one response's delay and any stall, then applies the
// injected error and the configured status.
func (g *grpcService) step(ctx context.Context, b *Behavior) error {
	s := g.s
	o := b.draw()
	if !s.clock.sleep(o.delay, ctx.Done(), s.done, nil) || !s.stall.wait(ctx.Done(), s.done, nil) {
		if ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
		return status.Error(codes.Unavailable, "smp target: shutting down")
	}
	if o.reset {
		s.counters.resets[protoGRPC].Add(1)
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil && p.LocalAddr != nil {
			if c := s.conns.find(p.LocalAddr.String(), p.Addr.String()); c != nil {
				resetConn(c)
			}
		}
		return status.Error(codes.Unavailable, "smp target: injected connection reset")
	}
	if o.fail {
		s.counters.count(protoGRPC, int(codes.Internal))
		return status.Error(codes.Internal, "smp target: injected error")
	}
	if code := grpcCode(b.status()); code != codes.OK {
		s.counters.count(protoGRPC, int(code))
		return status.Errorf(code, "smp target: status %d", b.status())
	}
	return nil
}

func (g *grpcService) payload(b *Behavior, in []byte) []byte {
	if b.Echo {
		return in
	}
	if b.Size <= len(g.s.filler) {
		// Shared and read-only: marshalling only reads it.
		return g.s.filler[:b.Size]
	}
	p := make([]byte, b.Size)
	for i := 0; i < len(p); {
		i += copy(p[i:], g.s.filler)
	}
	return p
}

// grpcCode maps an HTTP status to the gRPC code a gRPC service would
// answer for the same condition (the inverse of grpc-gateway's mapping).
func grpcCode(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusConflict:
		return codes.Aborted
	case http.StatusPreconditionFailed:
		return codes.FailedPrecondition
	case http.StatusRequestedRangeNotSatisfiable:
		return codes.OutOfRange
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case 499:
		return codes.Canceled
	case http.StatusInternalServerError:
		return codes.Internal
	case http.StatusNotImplemented:
		return codes.Unimplemented
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	}
	if httpStatus >= 200 && httpStatus < 300 {
		return codes.OK
	}
	return codes.Unknown
}
