# loglet build and test entry points. `make test` is what CI runs (through .ci/run).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := $(CURDIR)/bin

export CGO_ENABLED ?= 0

.PHONY: all build test fuzz bench vet clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/loglet ./sidecar/cmd/loglet

vet:
	$(GO) vet ./...

# test runs every test, including the fuzz seed corpora and the integration
# tests that start the real bin/loglet process.
test: build vet
	LOGLET_BIN=$(BIN)/loglet $(GO) test -count=1 -timeout 20m ./...

# fuzz runs each parser fuzz target for FUZZTIME.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./sidecar/internal/parse -run '^$$' -fuzz '^FuzzParseLine$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf $(BIN)
