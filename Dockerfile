# Build the manager binary.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
# The release the binary reports in meshkeeper_build_info{version}.
ARG VERSION=""

WORKDIR /workspace
# Dependencies first, so they are cached while the sources change.
COPY go.mod go.sum ./
RUN go mod download

COPY main.go main.go
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/
COPY hack/trimdeps/ hack/trimdeps/

# hack/trimdeps builds without cgo, with -trimpath and -s -w, and leaves out the API groups the manager
# never uses (see its doc comment). It runs on the build platform and builds for the target's.
RUN go build -o /usr/local/bin/trimdeps ./hack/trimdeps && \
	GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} trimdeps -o meshkeeper \
	-ldflags="-X github.com/meshkeeper/meshkeeper/internal/metrics.version=${VERSION}"

# Distroless, nonroot: no shell, no package manager, uid 65532.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/meshkeeper /meshkeeper
USER 65532:65532

ENTRYPOINT ["/meshkeeper"]
