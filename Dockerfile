# loglet container images, one target per image the manifests use:
#
#   loglet    (the default, last stage) ghcr.io/loglet/loglet
#             /loglet            the sidecar (the entrypoint)
#             /loglet-injector   the mutating admission webhook; run it with
#                                command: ["/loglet-injector"]
#   counter   ghcr.io/loglet/counter   examples/counter, the example app
#   alerter   ghcr.io/loglet/alerter   examples/alerter, the exception alerter
#
# Build them with `make image` (all three, tagged $(REGISTRY)/NAME:$(VERSION)),
# or one with:
#
#   docker build --build-arg VERSION=$(cat VERSION) --target counter -t ghcr.io/loglet/counter:$(cat VERSION) .
#
# integration/dockerfile_test.go runs the `go build` lines below with the same
# flags, and checks every target, so keep each one a single command on its
# own RUN line.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.2.0
ARG REVISION=
ARG TARGETOS
ARG TARGETARCH
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" -o /out/loglet ./sidecar/cmd/loglet
RUN go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/loglet-injector ./sidecar/cmd/loglet-injector
RUN go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/counter ./examples/counter
RUN go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/alerter ./examples/alerter

# distroless/static: no shell or libc, but CA certificates, tzdata and a
# nonroot user (65532). The numeric USER lets Kubernetes verify runAsNonRoot.
FROM gcr.io/distroless/static-debian12:nonroot AS counter
COPY --from=build /out/counter /
USER 65532:65532
ENTRYPOINT ["/counter"]

FROM gcr.io/distroless/static-debian12:nonroot AS alerter
COPY --from=build /out/alerter /
USER 65532:65532
ENTRYPOINT ["/alerter"]

FROM gcr.io/distroless/static-debian12:nonroot AS loglet
COPY --from=build /out/loglet /out/loglet-injector /
USER 65532:65532
ENTRYPOINT ["/loglet"]
