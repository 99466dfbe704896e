# pier — build, run and test. Every install step lives here or in scripts/.
SHELL := /bin/bash
GO ?= go
UNAME_S := $(shell uname -s)
HOST_GOARCH := $(shell $(GO) env GOARCH)
GUEST_ARCH ?= $(HOST_GOARCH)
BIN := bin
GUEST_DIR := $(BIN)/guest/$(GUEST_ARCH)
# Build identity shown by `docker version` and `docker info`.
PIER_VERSION ?= $(or $(shell git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//'),0.0.0-dev)
GIT_COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_TIME := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION_PKG := github.com/pier-vm/pier/version
LDFLAGS := -X $(VERSION_PKG).Version=$(PIER_VERSION) -X $(VERSION_PKG).GitCommit=$(GIT_COMMIT) -X $(VERSION_PKG).BuildTime=$(BUILD_TIME)

.PHONY: all deps build pierd guest guest-assets builder testdata compose run test e2e-arm64-guest fuzz vet fmt clean

all: build

# deps installs what pier needs from Debian's packages (idempotent).
deps:
	bash scripts/install-deps.sh

ifeq ($(UNAME_S),Darwin)
# On a Mac, pierd links Virtualization.framework (cgo) and must carry the
# virtualization entitlement: `make`, `make pierd` and `make run` build it
# signed (build-darwin in darwin.mk), never an unsigned binary over the
# signed one. The guest assets come from Debian (guest-assets-darwin says
# how); Debian's packages (deps) are not needed on a Mac.
build: pierd guest guest-assets-darwin

pierd: build-darwin

run: build
	$(BIN)/pierd
else
build: pierd guest guest-assets builder

# pierd is pure Go on Linux; built with the flags of the guest binaries
# (no cgo, -trimpath), the packages it shares with the builder's daemon
# (BuildKit's) are compiled once.
# bin/pier-net-helper (a network's datapath: cmd/pier-net-helper) is built
# with it; pierd starts it from beside its own binary.
pierd:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pierd ./cmd/pierd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pier-net-helper ./cmd/pier-net-helper

run: deps build
	$(BIN)/pierd
endif

# guest builds the static guest binary (PID 1 + agent) for the guest arch.
guest:
	mkdir -p $(GUEST_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GUEST_ARCH) $(GO) build -trimpath -ldflags='-s -w' -o $(GUEST_DIR)/pier-init ./guest/cmd/pier-init

# builder makes the root file system of the builder VM (docker build):
# pier's BuildKit daemon and runc (scripts/builder-root.sh).
builder:
	GO=$(GO) bash scripts/builder-root.sh $(GUEST_ARCH) $(GUEST_DIR)/builder-root.tar

# guest-assets fetches Debian's cloud kernel for the guest arch and extracts
# the uncompressed kernel and the modules pier needs into $(GUEST_DIR).
guest-assets:
	bash scripts/guest-assets.sh $(GUEST_ARCH) $(GUEST_DIR)

# testdata fetches the Debian packages the test images are built from.
testdata:
	bash scripts/testdata.sh testdata/cache

# compose builds Docker Compose v2 and the buildx plugin (docker CLI
# plugins) from their Go modules into $(BIN)/cli-plugins for the e2e tests;
# skipped when already built.
compose:
	GO=$(GO) bash scripts/install-cli-plugin.sh compose $(BIN)/cli-plugins
	GO=$(GO) bash scripts/install-cli-plugin.sh buildx $(BIN)/cli-plugins

# test runs the whole suite: unit tests, real VMs under QEMU, the
# end-to-end tests that drive the real docker CLI, Docker Compose v2 and
# testcontainers-go against pierd, and the
# Mac's arm64 guest with a Rosetta stand-in (e2e-arm64-guest).
test: deps build testdata compose check-darwin
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 45m ./...
	$(MAKE) --no-print-directory e2e-arm64-guest

# e2e-arm64-guest is the Mac's situation (arm64 guest, amd64 image) on this
# machine: it boots the arm64 guest assets under qemu-system-aarch64 (TCG
# on an x86-64 host) and runs an amd64 busybox image that prints x86_64,
# with Debian's arm64 qemu-x86_64-static shared and registered exactly as
# the vz driver shares and registers Rosetta (scripts/rosetta-standin.sh).
ROSETTA_STANDIN := $(BIN)/rosetta-standin
e2e-arm64-guest: deps testdata
	$(MAKE) --no-print-directory guest guest-assets GUEST_ARCH=arm64
	bash scripts/rosetta-standin.sh $(ROSETTA_STANDIN)
	PIER_E2E_ARM64_GUEST=1 $(GO) test -count=1 -timeout 10m -v -run '^TestArm64GuestRunsAMD64ImageAsUnderRosetta$$' ./engine/vmruntime

# fuzz runs every fuzz target (the parsers of outside input) for FUZZTIME
# each; `go test ./...` runs only their seed corpora and the crashers kept
# in testdata/fuzz. A new crasher lands in the package's testdata/fuzz:
# fix the bug and commit it as a regression case.
FUZZTIME ?= 10s
FUZZ_TARGETS := \
	./engine/platform:FuzzParse \
	./engine/image:FuzzParseRef \
	./engine/image:FuzzLoad \
	./compat:FuzzParseFilters \
	./guest/agent:FuzzArchivePath \
	./guest/agent:FuzzExtract \
	./guest/proto:FuzzReadFrame \
	./guest/proto:FuzzReadMessage \
	./guest/proto:FuzzProcessFrames \
	./server/image:FuzzDecodeAuth \
	./server/container:FuzzStreamFrames \
	./server/container:FuzzDetachKeys
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t#*:} ($${t%%:*}, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)

# macOS targets and check-darwin (type-checks the vz driver on Linux).
include darwin.mk
