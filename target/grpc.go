package target

import (
	"context"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	targetpb "github.com/smp-project/smp/target/proto"
)

// maxStreamMessages bounds StreamRequest.count.
const maxStreamMessages = 1_000_000

// grpcService serves smp.target.v1.Echo with the shared behaviour. It is
// registered with echoServiceDesc rather than the generated descriptor so
// that its handlers can answer a *wireResponse, which wireCodec writes
// without copying its body.
type grpcService struct {
	s *Server
}

// echoHandler is the type echoServiceDesc's handlers are called on.
type echoHandler interface {
	echo(ctx context.Context, req *targetpb.EchoRequest) (any, error)
	stream(req *targetpb.StreamRequest, stream grpc.ServerStream) error
}

// echoServiceDesc is targetpb.Echo_ServiceDesc (same service, methods and
// proto file, so clients and reflection see no difference) with handlers
// that may answer a *wireResponse.
func echoServiceDesc() *grpc.ServiceDesc {
	gen := &targetpb.Echo_ServiceDesc
	return &grpc.ServiceDesc{
		ServiceName: gen.ServiceName,
		HandlerType: (*echoHandler)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: gen.Methods[0].MethodName,
			Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := new(targetpb.EchoRequest)
				if err := dec(in); err != nil {
					return nil, err
				}
				return srv.(echoHandler).echo(ctx, in)
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName: gen.Streams[0].StreamName,
			Handler: func(srv any, stream grpc.ServerStream) error {
				in := new(targetpb.StreamRequest)
				if err := stream.RecvMsg(in); err != nil {
					return err
				}
				return srv.(echoHandler).stream(in, stream)
			},
			ServerStreams: true,
		}},
		Metadata: gen.Metadata,
	}
}

func (g *grpcService) echo(ctx context.Context, req *targetpb.EchoRequest) (any, error) {
	g.s.gaps[listenGRPC].arrive()
	b, err := g.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer g.end()
	if err := g.step(ctx, &b); err != nil {
		return nil, err
	}
	resp, err := g.response(&b, req.GetPayload())
	if err != nil {
		return nil, err
	}
	g.s.counters.count(protoGRPC, int(codes.OK))
	return resp, nil
}

func (g *grpcService) stream(req *targetpb.StreamRequest, stream grpc.ServerStream) error {
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
	// A client that stops reading blocks Send once its flow-control
	// window and the stream's write quota are spent, and nothing in
	// grpc-go ends that wait but the client. Past the write timeout the
	// connection is cut, as the other listeners cut a client that does
	// not read, so that the call gives back its capacity slot.
	var watch *time.Timer
	if g.s.lim.write > 0 {
		watch = time.AfterFunc(time.Hour, func() { g.cutConn(ctx) })
		defer watch.Stop()
	}
	for range n {
		if err := g.step(ctx, &b); err != nil {
			return err
		}
		resp, err := g.response(&b, req.GetPayload())
		if err != nil {
			return err
		}
		if watch != nil {
			watch.Reset(g.s.lim.write)
		}
		err = stream.SendMsg(resp)
		if watch != nil {
			watch.Stop()
		}
		if err != nil {
			return err
		}
	}
	g.s.counters.count(protoGRPC, int(codes.OK))
	return nil
}

// cutConn closes the connection of a call whose client stopped reading.
func (g *grpcService) cutConn(ctx context.Context) {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil && p.LocalAddr != nil {
		if c, ok := g.s.conns.find(p.LocalAddr.String(), p.Addr.String()).(*watchedConn); ok {
			g.s.counters.timeouts[timeoutWrite].Add(1)
			c.cutOff()
		}
	}
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

// response is the answer to one message: the request's payload back, or
// Size bytes of the shared filler, which cost nothing however large. An
// echoed payload counts against the in-flight byte budget until it has
// been written.
func (g *grpcService) response(b *Behavior, in []byte) (*wireResponse, error) {
	if !b.Echo {
		return &wireResponse{filler: g.s.filler, size: b.Size}, nil
	}
	if !g.s.budget.take(int64(len(in))) {
		g.s.counters.overBudget[protoGRPC].Add(1)
		g.s.counters.count(protoGRPC, int(codes.ResourceExhausted))
		return nil, status.Error(codes.ResourceExhausted, "smp target: "+errOverBudget.msg)
	}
	return &wireResponse{echo: in, size: len(in), budget: g.s.budget}, nil
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
