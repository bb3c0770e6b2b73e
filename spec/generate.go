package spec

// Regenerate the Go code from proto/ with protoc (Debian's protobuf-compiler)
// and protoc-gen-go (google.golang.org/protobuf/cmd/protoc-gen-go).
//go:generate protoc -I proto --go_out=. --go_opt=paths=source_relative service_mesh.proto metadata.proto service_mesh_performance.proto
