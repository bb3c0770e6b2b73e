#!/usr/bin/env bash
# Developer tasks: ./dev.sh generate | test | bench
# `./dev.sh test` is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")"

case "${1:-test}" in
generate)
	# protoc from Debian's protobuf-compiler; the Go plugins from the module proxy.
	command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }
	GOBIN="$(go env GOPATH)/bin" go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	GOBIN="$(go env GOPATH)/bin" go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	PATH="$(go env GOPATH)/bin:$PATH" go generate ./...
	;;
test)
	echo "== gofmt"
	unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '\.pb\.go$' || true)
	if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
	echo "== go vet"
	go vet ./...
	echo "== go test -race"
	go test -race -count=1 ./...
	# Timing-sensitive accuracy tests (rate, latency, coordinated omission)
	# skip themselves under the race detector, which slows every request
	# several-fold; they run here without it, one package at a time (-p 1)
	# so that two packages' timing tests do not share the two cores.
	echo "== accuracy tests (no race detector)"
	go test -p 1 -count=1 -run 'Accuracy' ./...
	;;
bench)
	go test -run '^$' -bench . -benchmem -benchtime 2s ./...
	bash bench/all.sh
	;;
*)
	echo "usage: $0 generate|test|bench" >&2
	exit 2
	;;
esac
