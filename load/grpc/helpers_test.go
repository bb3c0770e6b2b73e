package grpc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rpbalpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/smp-project/smp/load"
)

// testTimeout bounds every network wait in these tests, so that a bug shows
// up as a failure rather than a hang.
const testTimeout = 10 * time.Second

// labProto is the service of the test server. The server is built from
// this descriptor at run time, with a dynamic handler, so that the driver
// can learn it only by reflection or from files the test writes: nothing
// of it is compiled into the package.
const labProto = `syntax = "proto3";
package smptest.lab.v1;

import "google/protobuf/duration.proto";

message Inner {
  int32 count = 1;
  repeated string tags = 2;
}

// Req says how the server answers.
message Req {
  string name = 1;
  int32 code = 2;        // gRPC status code to answer with
  int32 size = 3;        // response payload bytes
  int32 messages = 4;    // Watch: number of response messages
  google.protobuf.Duration delay = 5;
  Inner inner = 6;
  repeated Inner items = 7;
  map<string, Inner> by_key = 8;
}

message Resp {
  bytes payload = 1;
}

service Lab {
  rpc Unary(Req) returns (Resp);
  rpc Watch(Req) returns (stream Resp);
  rpc Upload(stream Req) returns (Resp);
}
`

const (
	labUnary = "smptest.lab.v1.Lab/Unary"
	labWatch = "smptest.lab.v1.Lab/Watch"
)

// labFiles compiles labProto (and writes it to dir/lab.proto).
func labFiles(t testing.TB, dir string) (*protoregistry.Files, string) {
	t.Helper()
	path := filepath.Join(dir, "lab.proto")
	if err := os.WriteFile(path, []byte(labProto), 0o644); err != nil {
		t.Fatal(err)
	}
	fds, err := compileProtos(context.Background(), []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := new(protoregistry.Files)
	for _, fd := range fds {
		if err := registerWithImports(files, fd); err != nil {
			t.Fatal(err)
		}
	}
	return files, path
}

// writeProtoset writes lab.proto's descriptors as a FileDescriptorSet,
// with or without the files it imports.
func writeProtoset(t *testing.T, files *protoregistry.Files, withImports bool) string {
	t.Helper()
	fd, err := files.FindFileByPath("lab.proto")
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if withImports {
		for i := range fd.Imports().Len() {
			set.File = append(set.File, protodesc.ToFileDescriptorProto(fd.Imports().Get(i).FileDescriptor))
		}
	}
	set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	b, err := proto.Marshal(&set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lab.protoset")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type labOptions struct {
	reflection string // "v1", "v1alpha", "both" or "" for none
	health     bool
	tls        *tls.Config
	server     []grpc.ServerOption // more options: limits, windows, connection age
}

// labServer is a stock grpc-go server on 127.0.0.1 serving the Lab service
// through a dynamic handler.
type labServer struct {
	addr  string
	files *protoregistry.Files
	srv   *grpc.Server
	conns atomic.Int64 // connections accepted
	calls atomic.Int64

	mu        sync.Mutex
	last      *dynamicpb.Message // the last request
	lastMD    metadata.MD
	inFlight  int
	maxFlight int
}

func startLab(t *testing.T, o labOptions) *labServer {
	t.Helper()
	files, _ := labFiles(t, t.TempDir())
	s := &labServer{files: files}
	var opts []grpc.ServerOption
	if o.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.tls)))
	}
	s.srv = grpc.NewServer(append(opts, o.server...)...)
	s.register(t)
	ropts := reflection.ServerOptions{Services: s.srv, DescriptorResolver: files}
	if o.reflection == "v1" || o.reflection == "both" {
		rpb.RegisterServerReflectionServer(s.srv, reflection.NewServerV1(ropts))
	}
	if o.reflection == "v1alpha" || o.reflection == "both" {
		rpbalpha.RegisterServerReflectionServer(s.srv, reflection.NewServer(ropts))
	}
	if o.health {
		hs := health.NewServer()
		hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		healthpb.RegisterHealthServer(s.srv, hs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(&countingListener{Listener: ln, n: &s.conns})
	}()
	t.Cleanup(func() {
		s.srv.Stop()
		<-done
	})
	return s
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func (s *labServer) register(t *testing.T) {
	t.Helper()
	find := func(name string) protoreflect.MessageDescriptor {
		d, err := s.files.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Fatal(err)
		}
		return d.(protoreflect.MessageDescriptor)
	}
	reqDesc, respDesc := find("smptest.lab.v1.Req"), find("smptest.lab.v1.Resp")
	unary := func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		req := dynamicpb.NewMessage(reqDesc)
		if err := dec(req); err != nil {
			return nil, err
		}
		if err := s.begin(ctx, req); err != nil {
			return nil, err
		}
		defer s.end()
		return s.response(respDesc, req), nil
	}
	watch := func(_ any, ss grpc.ServerStream) error {
		req := dynamicpb.NewMessage(reqDesc)
		if err := ss.RecvMsg(req); err != nil {
			return err
		}
		if err := s.begin(ss.Context(), req); err != nil {
			return err
		}
		defer s.end()
		for range intField(req, "messages") {
			if err := ss.SendMsg(s.response(respDesc, req)); err != nil {
				return err
			}
		}
		return nil
	}
	upload := func(any, grpc.ServerStream) error { return status.Error(codes.Unimplemented, "not for tests") }
	s.srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "smptest.lab.v1.Lab",
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Unary", Handler: unary}},
		Streams: []grpc.StreamDesc{
			{StreamName: "Watch", Handler: watch, ServerStreams: true},
			{StreamName: "Upload", Handler: upload, ClientStreams: true},
		},
		Metadata: "lab.proto",
	}, struct{}{})
}

// begin records the call and acts out its delay and status.
func (s *labServer) begin(ctx context.Context, req *dynamicpb.Message) error {
	s.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.last, s.lastMD = req, md
	s.inFlight++
	s.maxFlight = max(s.maxFlight, s.inFlight)
	s.mu.Unlock()
	if d := req.Get(req.Descriptor().Fields().ByName("delay")).Message(); d.IsValid() {
		delay := time.Duration(d.Get(d.Descriptor().Fields().ByName("seconds")).Int())*time.Second +
			time.Duration(d.Get(d.Descriptor().Fields().ByName("nanos")).Int())
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			s.end()
			return ctx.Err()
		}
	}
	if code := intField(req, "code"); code != 0 {
		s.end()
		return status.Errorf(codes.Code(code), "lab: asked for %s", codes.Code(code))
	}
	return nil
}

func (s *labServer) end() {
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
}

func (s *labServer) response(desc protoreflect.MessageDescriptor, req *dynamicpb.Message) *dynamicpb.Message {
	resp := dynamicpb.NewMessage(desc)
	resp.Set(desc.Fields().ByName("payload"), protoreflect.ValueOfBytes(make([]byte, intField(req, "size"))))
	return resp
}

// labRespSize is the encoded size of a Resp with size payload bytes.
func labRespSize(t *testing.T, files *protoregistry.Files, size int) int64 {
	t.Helper()
	d, err := files.FindDescriptorByName("smptest.lab.v1.Resp")
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(d.(protoreflect.MessageDescriptor))
	m.Set(m.Descriptor().Fields().ByName("payload"), protoreflect.ValueOfBytes(make([]byte, size)))
	return int64(proto.Size(m))
}

func (s *labServer) lastRequest() (*dynamicpb.Message, metadata.MD) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.lastMD
}

func intField(m protoreflect.Message, name string) int {
	return int(m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name))).Int())
}

// field reads a value by a dotted path of field names, with [i] for a list
// element and [k] for a map entry ("items[1].tags[0]", "by_key[a].count").
func field(t *testing.T, m protoreflect.Message, path string) protoreflect.Value {
	t.Helper()
	var v protoreflect.Value
	for _, part := range strings.Split(path, ".") {
		name, index, _ := strings.Cut(strings.TrimSuffix(part, "]"), "[")
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			t.Fatalf("no field %s in %s", name, m.Descriptor().FullName())
		}
		v = m.Get(fd)
		switch {
		case fd.IsList() && index != "":
			var i int
			for _, r := range index {
				i = i*10 + int(r-'0')
			}
			if i >= v.List().Len() {
				t.Fatalf("%s: index %d of %d", path, i, v.List().Len())
			}
			v = v.List().Get(i)
		case fd.IsMap() && index != "":
			v = v.Map().Get(protoreflect.ValueOfString(index).MapKey())
		}
		if fd.Kind() == protoreflect.MessageKind && (index != "" || !fd.IsList() && !fd.IsMap()) && v.IsValid() {
			if msg, ok := v.Interface().(protoreflect.Message); ok {
				m = msg
			}
		}
	}
	return v
}

func newDriver(t *testing.T, opts load.Options, cfg Config) *Driver {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	d, err := New(ctx, opts, cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", opts.URL, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func openConn(t *testing.T, d *Driver) load.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := d.Open(ctx)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func do(t *testing.T, c load.Conn) (load.Outcome, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	return c.Do(ctx)
}

// certs are a self-signed server certificate for 127.0.0.1 and a client
// certificate, as PEM files.
type certs struct {
	serverCert, serverKey, clientCert, clientKey string
	server                                       tls.Certificate
	serverPool, clientPool                       *x509.CertPool
}

func newCerts(t *testing.T) *certs {
	t.Helper()
	dir := t.TempDir()
	c := &certs{}
	var serverDER, clientDER []byte
	c.serverCert, c.serverKey, serverDER = selfSigned(t, dir, "server", true)
	c.clientCert, c.clientKey, clientDER = selfSigned(t, dir, "client", false)
	var err error
	if c.server, err = tls.LoadX509KeyPair(c.serverCert, c.serverKey); err != nil {
		t.Fatal(err)
	}
	c.serverPool, c.clientPool = pool(t, serverDER), pool(t, clientDER)
	return c
}

func pool(t *testing.T, der []byte) *x509.CertPool {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	p.AddCert(cert)
	return p
}

func selfSigned(t *testing.T, dir, name string, server bool) (certFile, keyFile string, der []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "smp test " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"lab.test"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, der
}
