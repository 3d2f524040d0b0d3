# shardpacs — see README.md. Everything here is also plain `go` commands.
GO       ?= go
PKGS     ?= ./...
# Tests run with the race detector; the timeout guards CI (90 min budget,
# the suite is meant to take a few minutes on 2 cores).
TESTFLAGS ?= -race -timeout 20m

.PHONY: all build run test test-crash test-short vet fuzz bench bench-go generate clean

all: build

build:
	$(GO) build ./...

## run: start the node on its embedded defaults (AE SHARDPACS, 127.0.0.1:11112, ./data)
run:
	$(GO) run ./cmd/shardpacs serve

## test: install the DICOM peers when possible (root + apt-get), then run every test
test:
	@scripts/install-test-tools.sh
	$(GO) vet $(PKGS)
	$(GO) test $(TESTFLAGS) $(PKGS)
	@$(MAKE) --no-print-directory test-crash

## test-crash: the archive's crash-kill test at its full count (>= 100 kills), without
## the race detector (under -race it runs a shorter count: see archive/crash_test.go)
test-crash:
	$(GO) test -count=1 -run '^TestCrashSafety$$' ./archive/

test-short:
	$(GO) test -short $(PKGS)

vet:
	$(GO) vet $(PKGS)

## fuzz: run every native fuzz target for FUZZTIME each (default 30s)
FUZZTIME ?= 30s
fuzz:
	@scripts/fuzz-all.sh $(FUZZTIME)

## bench: shardpacs vs storescp, dcmqrscp and Orthanc on the same data (bench/README.md,
## docs/performance.md); installs DCMTK and Orthanc first when run as root.
## BENCHFLAGS=-quick for a smoke run; the table lands in bench-out/results-YYYYMMDD.md
BENCHFLAGS ?=
bench:
	@scripts/install-test-tools.sh --bench
	$(GO) run ./bench $(BENCHFLAGS)

## bench-go: the Go benchmarks of each pipeline stage and the network layer
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

generate:
	$(GO) generate ./...

clean:
	rm -rf ./data
