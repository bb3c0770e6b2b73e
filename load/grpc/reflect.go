package grpc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rpbalpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// maxReflectedFiles bounds the files fetched by reflection, so that a
// misbehaving server cannot keep New busy forever.
const maxReflectedFiles = 10_000

// reflectStream is a server reflection stream in terms of the v1 messages.
type reflectStream interface {
	Send(*rpb.ServerReflectionRequest) error
	Recv() (*rpb.ServerReflectionResponse, error)
	CloseSend() error
}

// alphaStream speaks v1alpha through the v1 messages: the two are the same
// on the wire (v1 is v1alpha renamed), so a message converts by re-decoding.
type alphaStream struct {
	s grpc.BidiStreamingClient[rpbalpha.ServerReflectionRequest, rpbalpha.ServerReflectionResponse]
}

func (a alphaStream) Send(req *rpb.ServerReflectionRequest) error {
	var out rpbalpha.ServerReflectionRequest
	if err := convert(req, &out); err != nil {
		return err
	}
	return a.s.Send(&out)
}

func (a alphaStream) Recv() (*rpb.ServerReflectionResponse, error) {
	in, err := a.s.Recv()
	if err != nil {
		return nil, err
	}
	var out rpb.ServerReflectionResponse
	if err := convert(in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (a alphaStream) CloseSend() error { return a.s.CloseSend() }

func convert(from, to proto.Message) error {
	b, err := proto.Marshal(from)
	if err != nil {
		return fmt.Errorf("reflection message: %w", err)
	}
	if err := proto.Unmarshal(b, to); err != nil {
		return fmt.Errorf("reflection message: %w", err)
	}
	return nil
}

// reflectFiles asks the server's reflection service (v1, else v1alpha) for
// the file defining service and every file it imports.
func reflectFiles(ctx context.Context, d *Driver, service string) (*protoregistry.Files, error) {
	ch, err := d.newChannel(-1)
	if err != nil {
		return nil, err
	}
	defer ch.cc.Close()
	if err := ch.waitReady(ctx, d); err != nil {
		return nil, err
	}
	// The reflection calls are not load: they use the ordinary proto codec
	// instead of the raw one, and carry the run's metadata in case the
	// server wants credentials.
	codec := grpc.ForceCodecV2(encoding.GetCodecV2(protocodec.Name))
	for _, v1 := range []bool{true, false} {
		var st callState
		rctx, cancel := context.WithTimeout(context.WithValue(ctx, stateKey{}, &st), d.timeout)
		if d.md != nil {
			rctx = metadata.NewOutgoingContext(rctx, d.md)
		}
		files, err := reflectOnce(rctx, ch, v1, service, codec)
		expired := pastDeadline(rctx)
		cancel()
		if err == nil {
			return files, nil
		}
		_, isStatus := status.FromError(err)
		switch {
		case isStatus && st.trailer.Load() && status.Code(err) == codes.Unimplemented:
			continue // try the older version
		case !isStatus || st.trailer.Load():
			// The server answered: the exchange itself failed.
			return nil, fmt.Errorf("grpc: server reflection at %s: %w", d.addr, err)
		default:
			return nil, d.callError(ctx, expired, ch, err)
		}
	}
	return nil, fmt.Errorf("grpc: %s offers no reflection service (neither grpc.reflection.v1 nor v1alpha), so the descriptor of %s cannot be found: give it with the protoset or proto option", d.addr, service)
}

// reflectOnce runs the reflection exchange with one version of the service.
func reflectOnce(ctx context.Context, ch *channel, v1 bool, service string, codec grpc.CallOption) (*protoregistry.Files, error) {
	var s reflectStream
	if v1 {
		v, err := rpb.NewServerReflectionClient(ch.cc).ServerReflectionInfo(ctx, codec)
		if err != nil {
			return nil, err
		}
		s = v
	} else {
		v, err := rpbalpha.NewServerReflectionClient(ch.cc).ServerReflectionInfo(ctx, codec)
		if err != nil {
			return nil, err
		}
		s = alphaStream{v}
	}
	defer s.CloseSend()
	return fetchFiles(s, service)
}

// fetchFiles lists the services, checks that service is one, and fetches
// the files that define it.
func fetchFiles(s reflectStream, service string) (*protoregistry.Files, error) {
	resp, err := ask(s, &rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{ListServices: "*"}})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	slices.Sort(names)
	if !slices.Contains(names, service) {
		list := strings.Join(names, ", ")
		if list == "" {
			list = "none"
		}
		return nil, fmt.Errorf("the server has no service %s; it offers: %s", service, list)
	}

	protos := map[string]*descriptorpb.FileDescriptorProto{}
	var order, queue []string
	take := func(resp *rpb.ServerReflectionResponse) error {
		for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fdp := new(descriptorpb.FileDescriptorProto)
			if err := proto.Unmarshal(b, fdp); err != nil {
				return fmt.Errorf("a file descriptor from the server does not decode: %w", err)
			}
			if _, dup := protos[fdp.GetName()]; dup {
				continue
			}
			protos[fdp.GetName()] = fdp
			order = append(order, fdp.GetName())
			queue = append(queue, fdp.GetDependency()...)
		}
		return nil
	}
	resp, err = ask(s, &rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: service}})
	if err != nil {
		return nil, err
	}
	if err := take(resp); err != nil {
		return nil, err
	}
	missing := map[string]bool{}
	for len(queue) > 0 && len(protos) < maxReflectedFiles {
		name := queue[0]
		queue = queue[1:]
		if protos[name] != nil || missing[name] {
			continue
		}
		resp, err := ask(s, &rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileByFilename{FileByFilename: name}})
		var re *reflectionError
		if asReflectionError(err, &re) && re.code == codes.NotFound {
			// buildFiles takes it from the compiled-in files, if it is one.
			missing[name] = true
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := take(resp); err != nil {
			return nil, err
		}
	}
	files, err := buildFiles(protos, order)
	if err != nil {
		return nil, fmt.Errorf("descriptors from the server: %w", err)
	}
	return files, nil
}

// reflectionError is an error the reflection service answered with.
type reflectionError struct {
	code codes.Code
	msg  string
}

func (e *reflectionError) Error() string {
	return fmt.Sprintf("reflection error %s: %s", e.code, e.msg)
}

func asReflectionError(err error, re **reflectionError) bool {
	e, ok := err.(*reflectionError)
	if ok {
		*re = e
	}
	return ok
}

// ask sends one request and reads its response.
func ask(s reflectStream, req *rpb.ServerReflectionRequest) (*rpb.ServerReflectionResponse, error) {
	if err := s.Send(req); err != nil {
		// The stream has failed; Recv has the status.
		if _, rerr := s.Recv(); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	resp, err := s.Recv()
	if err != nil {
		return nil, err
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, &reflectionError{code: codes.Code(e.GetErrorCode()), msg: e.GetErrorMessage()}
	}
	return resp, nil
}
