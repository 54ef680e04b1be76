# loglet build and test entry points. `make test` is what CI runs (through .ci/run).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := $(CURDIR)/bin

export CGO_ENABLED ?= 0

.PHONY: all build test e2e fuzz bench bench-peers vet image clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/loglet ./sidecar/cmd/loglet
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/loglet-injector ./sidecar/cmd/loglet-injector

vet:
	$(GO) vet ./...

# test runs every test, including the fuzz seed corpora and the integration
# tests that start the real bin/loglet process. The packages run under the
# race detector (which needs cgo); the integration tests run the real,
# static binaries.
test: build vet
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./sidecar/... ./applib/... ./examples/...
	LOGLET_BIN=$(BIN)/loglet $(GO) test -count=1 -timeout 20m ./integration/...

# e2e runs loglet-injector against a real kube-apiserver and etcd on
# 127.0.0.1 (integration/k8s). build.sh builds both from Go modules into
# $HOME/.cache/loglet-e2e the first time (about 7 minutes, 2 GB of memory),
# then reuses them; the test itself takes seconds.
e2e:
	bin=$$(timeout 30m integration/k8s/build.sh) && \
	cd integration/k8s/e2e && LOGLET_E2E_BIN_DIR="$$bin" $(GO) test -count=1 -timeout 10m .

# fuzz runs each parser fuzz target for FUZZTIME.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./sidecar/internal/parse -run '^$$' -fuzz '^FuzzParseLine$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sidecar/internal/parse -run '^$$' -fuzz '^FuzzJoiner$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sidecar/internal/shape -run '^$$' -fuzz '^FuzzShape$$' -fuzztime $(FUZZTIME)

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

# image builds the container image holding loglet and loglet-injector
# (needs a Docker engine; CI checks the Dockerfile's go build lines instead).
IMAGE ?= loglet:$(VERSION)
image:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

# bench-peers runs the headline data through rsyslog too (imfile, mmjsonparse,
# omkafka: apt-get install rsyslog rsyslog-kafka), for a peer in the same run.
bench-peers:
	$(MAKE) bench BENCHFLAGS="-peers -run 'headline|floor|rsyslog'"

clean:
	rm -rf $(BIN)
