package grpc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bufbuild/protocompile"
	_ "google.golang.org/grpc/health/grpc_health_v1" // registers grpc.health.v1 for URLs without a method
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// builtinServices are the services whose descriptors this program carries,
// so that calling them needs neither files nor reflection. Only standard
// ones: a service of the user's own could differ from any copy we hold.
var builtinServices = [...]string{"grpc.health.v1.Health"}

// usesReflection reports whether resolveMethod has to ask the server's
// reflection service for the descriptor of service, rather than find it in
// the given files or the built-in descriptors.
func usesReflection(cfg Config, service string) bool {
	return len(cfg.Protosets) == 0 && len(cfg.Protos) == 0 && !slices.Contains(builtinServices[:], service)
}

// resolveMethod finds the descriptor of the endpoint's method, and the
// files it came from (for Any types in the request).
func resolveMethod(ctx context.Context, d *Driver, cfg Config, ep endpoint) (protoreflect.MethodDescriptor, *protoregistry.Files, error) {
	var (
		files *protoregistry.Files
		from  string
		err   error
	)
	switch {
	case len(cfg.Protosets) > 0 || len(cfg.Protos) > 0:
		files, err = loadFiles(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		from = "the given descriptors (" + strings.Join(append(slices.Clone(cfg.Protosets), cfg.Protos...), ", ") + ")"
	case slices.Contains(builtinServices[:], ep.service):
		files, from = protoregistry.GlobalFiles, "the built-in descriptors"
	default:
		files, err = reflectFiles(ctx, d, ep.service)
		if err != nil {
			return nil, nil, err
		}
		from = "the server's reflection service"
	}
	desc, err := files.FindDescriptorByName(protoreflect.FullName(ep.service))
	sd, ok := desc.(protoreflect.ServiceDescriptor)
	if err != nil || !ok {
		return nil, nil, fmt.Errorf("grpc: service %s is not in %s; services there: %s", ep.service, from, listServices(files))
	}
	md := sd.Methods().ByName(protoreflect.Name(ep.method))
	if md == nil {
		return nil, nil, fmt.Errorf("grpc: service %s has no method %s; its methods: %s", ep.service, ep.method, listMethods(sd))
	}
	return md, files, nil
}

// listServices names every service in files, sorted.
func listServices(files *protoregistry.Files) string {
	var names []string
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			names = append(names, string(fd.Services().Get(i).FullName()))
		}
		return true
	})
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ", ")
}

// listMethods names a service's methods with their kinds.
func listMethods(sd protoreflect.ServiceDescriptor) string {
	var names []string
	for i := range sd.Methods().Len() {
		m := sd.Methods().Get(i)
		kind := "unary"
		switch {
		case m.IsStreamingClient() && m.IsStreamingServer():
			kind = "bidirectional streaming, not supported"
		case m.IsStreamingClient():
			kind = "client streaming, not supported"
		case m.IsStreamingServer():
			kind = "server streaming"
		}
		names = append(names, fmt.Sprintf("%s (%s)", m.Name(), kind))
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// loadFiles reads the protoset files and compiles the .proto files of cfg
// into one set.
func loadFiles(ctx context.Context, cfg Config) (*protoregistry.Files, error) {
	protos := map[string]*descriptorpb.FileDescriptorProto{}
	var order []string
	for _, path := range cfg.Protosets {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("grpc: read protoset: %w", err)
		}
		var set descriptorpb.FileDescriptorSet
		if err := proto.Unmarshal(b, &set); err != nil {
			return nil, fmt.Errorf("grpc: protoset %s is not a FileDescriptorSet (protoc --descriptor_set_out): %w", path, err)
		}
		if len(set.File) == 0 {
			return nil, fmt.Errorf("grpc: protoset %s holds no files", path)
		}
		for _, f := range set.File {
			if _, dup := protos[f.GetName()]; !dup {
				protos[f.GetName()] = f
				order = append(order, f.GetName())
			}
		}
	}
	files, err := buildFiles(protos, order)
	if err != nil {
		return nil, fmt.Errorf("grpc: protoset: %w", err)
	}
	if len(cfg.Protos) > 0 {
		compiled, err := compileProtos(ctx, cfg.Protos, cfg.ImportPaths)
		if err != nil {
			return nil, err
		}
		for _, fd := range compiled {
			if err := registerWithImports(files, fd); err != nil {
				return nil, fmt.Errorf("grpc: proto files: %w", err)
			}
		}
	}
	return files, nil
}

// compileProtos compiles .proto sources. Without import paths, each file's
// own directory is one, so that "-proto dir/x.proto" just works.
func compileProtos(ctx context.Context, names, importPaths []string) ([]protoreflect.FileDescriptor, error) {
	paths := slices.Clone([]string(importPaths))
	rel := make([]string, len(names))
	for i, name := range names {
		if len(importPaths) == 0 {
			dir := filepath.Dir(name)
			if !slices.Contains(paths, dir) {
				paths = append(paths, dir)
			}
			rel[i] = filepath.Base(name)
			continue
		}
		// A file under an import path is named relative to it, as its
		// importers name it.
		rel[i] = filepath.ToSlash(name)
		for _, p := range importPaths {
			if r, err := filepath.Rel(p, name); err == nil && !strings.HasPrefix(r, "..") {
				rel[i] = filepath.ToSlash(r)
				break
			}
		}
	}
	comp := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: paths}),
	}
	res, err := comp.Compile(ctx, rel...)
	if err != nil {
		return nil, fmt.Errorf("grpc: compile %s: %w", strings.Join(names, ", "), err)
	}
	out := make([]protoreflect.FileDescriptor, len(res))
	for i, f := range res {
		out[i] = f
	}
	return out, nil
}

// registerWithImports adds fd and, first, everything it imports, skipping
// files already there.
func registerWithImports(files *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	for i := range fd.Imports().Len() {
		if err := registerWithImports(files, fd.Imports().Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	if err := files.RegisterFile(fd); err != nil {
		return fmt.Errorf("%s: %w", fd.Path(), err)
	}
	return nil
}

// buildFiles links file descriptor protos into a registry, dependencies
// first. A dependency missing from protos is taken from the descriptors
// compiled into this program (the well-known types), since protosets made
// without --include_imports and reflection servers often leave those out.
func buildFiles(protos map[string]*descriptorpb.FileDescriptorProto, order []string) (*protoregistry.Files, error) {
	files := new(protoregistry.Files)
	state := map[string]int{} // 1 visiting, 2 done
	var add func(name, from string) error
	add = func(name, from string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("import cycle through %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		defer func() { state[name] = 2 }()
		fdp, ok := protos[name]
		if !ok {
			fd, err := protoregistry.GlobalFiles.FindFileByPath(name)
			if err != nil {
				return fmt.Errorf("%s imports %s, which is missing (make the protoset with --include_imports)", from, name)
			}
			return registerWithImports(files, fd)
		}
		for _, dep := range fdp.GetDependency() {
			if err := add(dep, name); err != nil {
				return err
			}
		}
		fd, err := protodesc.NewFile(fdp, files)
		if err != nil {
			return fmt.Errorf("file %s: %w", name, err)
		}
		if err := files.RegisterFile(fd); err != nil {
			return fmt.Errorf("file %s: %w", name, err)
		}
		return nil
	}
	for _, name := range order {
		if err := add(name, name); err != nil {
			return nil, err
		}
	}
	return files, nil
}
