# darwin.mk — macOS / Apple silicon targets (included by the Makefile).
#
# pierd links Apple's Virtualization.framework through cgo, so it is built
# on a Mac; the binary then gets the com.apple.security.virtualization
# entitlement (vz.entitlements) by an ad-hoc signature. Signing always
# follows linking, and nothing strips the binary after signing (that would
# drop the entitlement). On Linux, check-darwin type-checks the darwin code.

.PHONY: build-darwin sign install-darwin check-darwin

UNAME_S := $(shell uname -s)
PREFIX ?= /usr/local
DARWIN_ENV := GOOS=darwin GOARCH=arm64

define needs-mac
	@echo "$@ needs a Mac with Apple silicon and the Xcode command line tools (cgo links Virtualization.framework); on Linux, run 'make check-darwin'" >&2; exit 1
endef

# build-darwin links bin/pierd for darwin/arm64 and signs it.
build-darwin:
ifeq ($(UNAME_S),Darwin)
	$(DARWIN_ENV) CGO_ENABLED=1 $(GO) build -o $(BIN)/pierd ./cmd/pierd
	$(MAKE) --no-print-directory sign
else
	$(needs-mac)
endif

# sign gives bin/pierd the virtualization entitlement (ad-hoc signature).
sign:
ifeq ($(UNAME_S),Darwin)
	codesign --sign - --entitlements vz.entitlements --force $(BIN)/pierd
	codesign --display --entitlements - $(BIN)/pierd | grep -q com.apple.security.virtualization
else
	$(needs-mac)
endif

# install-darwin copies the signed binary byte for byte (no install -s:
# stripping would drop the signature) and checks the signature survived.
install-darwin: build-darwin
ifeq ($(UNAME_S),Darwin)
	mkdir -p $(DESTDIR)$(PREFIX)/bin
	cp -f $(BIN)/pierd $(DESTDIR)$(PREFIX)/bin/pierd
	codesign --verify --verbose $(DESTDIR)$(PREFIX)/bin/pierd
else
	$(needs-mac)
endif

# check-darwin type-checks every darwin/arm64 file with go/types (cgo cannot
# build Virtualization.framework code here), then vets for darwin/arm64
# every package that builds without cgo: all but those importing
# github.com/Code-Hex/vz/v3, which are named as they are skipped.
check-darwin:
	$(GO) run ./internal/cmd/check-darwin
	@pkgs=$$($(DARWIN_ENV) CGO_ENABLED=0 $(GO) list -e -f '{{if not .Error}}{{.ImportPath}} {{join .Deps " "}}{{end}}' ./... | \
		awk '/github\.com\/Code-Hex\/vz\/v3/ { print "check-darwin: vet skips " $$1 " (it needs cgo for Virtualization.framework; type-checked above)" > "/dev/stderr"; next } NF { print $$1 }'); \
	echo "check-darwin: $(DARWIN_ENV) CGO_ENABLED=0 go vet over $$(echo $$pkgs | wc -w) packages"; \
	$(DARWIN_ENV) CGO_ENABLED=0 $(GO) vet $$pkgs
