# The smp binary in a minimal image: the agents that `smp run --kube-agents`
# launches run it (their Pods' arguments start with "agent"), and it runs
# any other smp command too.
#
#   docker build -t smp:latest .
#
# Build it from the same checkout as the smp that coordinates: the
# coordinator refuses agents of another version, and `smp version` here
# and `docker run --rm smp:latest version` must agree. The build context
# keeps .git (no .dockerignore leaves it out) so that the binary records
# the commit as a local build does; where the context has no usable .git
# (a git worktree's .git is a pointer to elsewhere), it is built without,
# as version "devel", which a local `go build -buildvcs=false` matches.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change reuses the downloaded modules.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static, so that it runs on an image with no C library.
RUN CGO_ENABLED=0 go build -trimpath -o /out/smp ./cmd/smp || \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -o /out/smp ./cmd/smp

# distroless static: no shell or package manager, user nonroot (65532),
# which the agents' Pods run as.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/smp /smp
USER 65532:65532
EXPOSE 9901
ENTRYPOINT ["/smp"]
CMD ["--help"]
