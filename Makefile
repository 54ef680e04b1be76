# loglet build and test entry points. `make test` is what CI runs (through .ci/run).
GO      ?= go
# VERSION is the semantic version the binaries report (-version, the start
# log line, loglet_build_info) and the images' tag: git describe's on a
# commit at or after a vX.Y.Z tag (v dropped: 0.2.0, 0.2.0-3-gabc1234),
# otherwise the VERSION file's.
VERSION  ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null | sed 's/^v//' | grep . || cat VERSION)
# REVISION is the commit, -dirty with uncommitted changes (set with -X:
# GOFLAGS=-buildvcs=false and Docker builds without .git have no VCS stamp).
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN     := $(CURDIR)/bin

export CGO_ENABLED ?= 0

.PHONY: all build test e2e fuzz bench bench-peers vet image clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS) -X main.revision=$(REVISION)' -o $(BIN)/loglet ./sidecar/cmd/loglet
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/loglet-injector ./sidecar/cmd/loglet-injector

vet:
	$(GO) vet ./...

# test runs every test, including the fuzz seed corpora and the integration
# tests that start the real bin/loglet process. integration/monitoring (the
# alert rules and the dashboard against the real /metrics) is a module of its
# own, so that the Prometheus modules only it needs stay out of go.mod. The packages run under the
# race detector (which needs cgo); the integration tests run the real,
# static binaries.
test: build vet
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./sidecar/... ./applib/... ./examples/...
	LOGLET_BIN=$(BIN)/loglet $(GO) test -count=1 -timeout 20m ./integration/...
	cd integration/monitoring && $(GO) vet . && LOGLET_BIN=$(BIN)/loglet $(GO) test -count=1 -timeout 10m .

# e2e runs loglet-injector against a real kube-apiserver and etcd on
# 127.0.0.1 (integration/k8s). build.sh builds both from Go modules into
# $HOME/.cache/loglet-e2e the first time (about 7 minutes, 2 GB of memory),
# then reuses them; the test itself takes seconds.
# The Helm chart's tests (manifests/charts/loglet: lint, renderings, the
# schema, the comparison with manifests/injector, an install) run here too,
# not in `make test`: they need helm, which build.sh builds from modules into
# the same cache (about 2 more minutes the first time), and `make test` stays
# free of that build.
e2e:
	bin=$$(timeout 30m integration/k8s/build.sh) && \
	cd integration/k8s/e2e && LOGLET_E2E_BIN_DIR="$$bin" $(GO) test -count=1 -timeout 10m .

# fuzz runs each fuzz target for FUZZTIME.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./sidecar/internal/parse -run '^$$' -fuzz '^FuzzParseLine$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sidecar/internal/parse -run '^$$' -fuzz '^FuzzJoiner$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sidecar/internal/shape -run '^$$' -fuzz '^FuzzShape$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sidecar/internal/sink/kafka -run '^$$' -fuzz '^FuzzRecordSet$$' -fuzztime $(FUZZTIME)

# demo shows the whole path on this machine with nothing but Go installed:
# examples/counter logs through applib into a temporary directory standing in
# for the pod's shared volume, bin/loglet ships its lines to an in-process
# Kafka broker (kfake) on a free local port, and examples/demo prints the
# records as they arrive. Ctrl-C stops everything and removes the directory.
# With LOGLET_KAFKA_BROKERS set, it uses that cluster instead of kfake. Only
# the three binaries it runs are built (not loglet-injector, whose Kubernetes
# modules a first run would otherwise download and compile).
.PHONY: demo
demo:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./sidecar/cmd/loglet ./examples/counter ./examples/demo
	$(BIN)/demo -loglet $(BIN)/loglet -counter $(BIN)/counter

# bench measures loglet as it runs in a pod (integration/bench): it ships
# generated log files to a Kafka-protocol broker running in a process of its
# own, reads loglet's CPU time and peak RSS from /proc, and prints a Markdown
# table (about three minutes). BENCHFLAGS passes options, for example
# BENCHFLAGS='-run headline' or BENCHFLAGS='-scale 0.1'.
BENCHFLAGS ?=
bench: build
	$(GO) build -o $(BIN)/loglet-bench ./integration/bench
	$(GO) build -o $(BIN)/loglet-bench-broker ./integration/bench/broker
	$(BIN)/loglet-bench -loglet $(BIN)/loglet -broker $(BIN)/loglet-bench-broker $(BENCHFLAGS)

# image builds the three images the manifests use, one Dockerfile target
# each: $(REGISTRY)/loglet (loglet and loglet-injector), $(REGISTRY)/counter
# and $(REGISTRY)/alerter, tagged $(VERSION). It needs a Docker engine; CI
# checks the Dockerfile's go build lines and targets instead
# (integration/dockerfile_test.go). `make image push` pushes them;
# `make image kind-load` loads them into a kind cluster (KIND_CLUSTER).
REGISTRY     ?= ghcr.io/loglet
IMAGES       := loglet counter alerter
DOCKER       ?= docker
KIND_CLUSTER ?= kind
image:
	$(foreach t,$(IMAGES),$(DOCKER) build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --target $(t) -t $(REGISTRY)/$(t):$(VERSION) . &&) true

.PHONY: push kind-load
push:
	$(foreach t,$(IMAGES),$(DOCKER) push $(REGISTRY)/$(t):$(VERSION) &&) true

kind-load:
	$(foreach t,$(IMAGES),kind load docker-image --name $(KIND_CLUSTER) $(REGISTRY)/$(t):$(VERSION) &&) true

# bench-peers runs the headline data through rsyslog too (imfile, mmjsonparse,
# omkafka: apt-get install rsyslog rsyslog-kafka), for a peer in the same run.
bench-peers:
	$(MAKE) bench BENCHFLAGS="-peers -run 'headline|^floor|rsyslog'"

clean:
	rm -rf $(BIN)
