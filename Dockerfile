# loglet container image: one image with both binaries.
#
#   /loglet            the sidecar (the entrypoint)
#   /loglet-injector   the mutating admission webhook; run it with
#                      command: ["/loglet-injector"]
#
# Build it with `make image`, or:
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t loglet .
#
# integration/dockerfile_test.go runs the `go build` lines below with the same
# flags, so keep each one a single command on its own RUN line.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/loglet ./sidecar/cmd/loglet
RUN go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/loglet-injector ./sidecar/cmd/loglet-injector

# distroless/static: no shell or libc, but CA certificates, tzdata and a
# nonroot user (65532). The numeric USER lets Kubernetes verify runAsNonRoot.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/loglet /out/loglet-injector /
USER 65532:65532
ENTRYPOINT ["/loglet"]
