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

RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath \
	-ldflags="-s -w -X github.com/meshkeeper/meshkeeper/internal/metrics.version=${VERSION}" -o meshkeeper .

# Distroless, nonroot: no shell, no package manager, uid 65532.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/meshkeeper /meshkeeper
USER 65532:65532

ENTRYPOINT ["/meshkeeper"]
