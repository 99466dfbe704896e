# darwin.mk — macOS / Apple silicon targets (included by the Makefile).
#
# pierd links Apple's Virtualization.framework through cgo, so it is built
# on a Mac; the binary then gets the com.apple.security.virtualization
# entitlement (vz.entitlements) by an ad-hoc signature. Signing always
# follows linking, and nothing strips the binary after signing (that would
# drop the entitlement).
#
# A signed binary is never rewritten in place: macOS caches a code
# signature per file (vnode), and a process started from a file whose
# bytes changed under a cached signature is killed ("Killed: 9"). So every
# target writes a new file beside the old one and renames it over.
#
# On Linux, check-darwin type-checks the darwin code.

.PHONY: build-darwin sign install-darwin guest-assets-darwin e2e-mac check-darwin

PREFIX ?= /usr/local
DARWIN_ENV := GOOS=darwin GOARCH=arm64
ENTITLEMENT := com.apple.security.virtualization

define needs-mac
	@echo "$@ needs a Mac with Apple silicon and the Xcode command line tools (cgo links Virtualization.framework); on Linux, run 'make check-darwin'" >&2; exit 1
endef

# sign-new FILE signs FILE with the entitlement and checks it is there.
define sign-new
	codesign --sign - --entitlements vz.entitlements --force $(1)
	codesign --display --entitlements - $(1) 2>/dev/null | grep -q $(ENTITLEMENT)
endef

# build-darwin links bin/pierd for darwin/arm64 with the version LDFLAGS,
# signs the new file and only then renames it over bin/pierd.
build-darwin:
ifeq ($(UNAME_S),Darwin)
	mkdir -p $(BIN)
	$(DARWIN_ENV) CGO_ENABLED=1 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/.pierd.new ./cmd/pierd
	$(call sign-new,$(BIN)/.pierd.new)
	mv -f $(BIN)/.pierd.new $(BIN)/pierd
else
	$(needs-mac)
endif

# sign re-signs bin/pierd (e.g. after an edit of vz.entitlements), on a
# copy that is renamed over it.
sign:
ifeq ($(UNAME_S),Darwin)
	cp $(BIN)/pierd $(BIN)/.pierd.new
	$(call sign-new,$(BIN)/.pierd.new)
	mv -f $(BIN)/.pierd.new $(BIN)/pierd
else
	$(needs-mac)
endif

# install-darwin installs the bin/pierd that `make build-darwin` made: it
# builds nothing (under `sudo make install-darwin` a build would run as
# root and leave root-owned files in the checkout and Go's caches), checks
# the signature, copies the binary byte for byte beside the installed one
# (no install -s: stripping would drop the signature) and renames it over.
install-darwin:
ifeq ($(UNAME_S),Darwin)
	@test -f $(BIN)/pierd || { echo "install-darwin: no $(BIN)/pierd; run 'make build-darwin' first (as yourself, without sudo)" >&2; exit 1; }
	@codesign --display --entitlements - $(BIN)/pierd 2>/dev/null | grep -q $(ENTITLEMENT) || { echo "install-darwin: $(BIN)/pierd is not signed with $(ENTITLEMENT); run 'make build-darwin' (without sudo)" >&2; exit 1; }
	mkdir -p $(DESTDIR)$(PREFIX)/bin
	cp $(BIN)/pierd $(DESTDIR)$(PREFIX)/bin/.pierd.new
	mv -f $(DESTDIR)$(PREFIX)/bin/.pierd.new $(DESTDIR)$(PREFIX)/bin/pierd
	codesign --verify --verbose $(DESTDIR)$(PREFIX)/bin/pierd
else
	$(needs-mac)
endif

# guest-assets-darwin checks that the arm64 guest kernel and modules are
# in $(GUEST_DIR): they come from Debian's packages (apt-get, dpkg,
# depmod), which a Mac does not have, so it says how to make them in a
# Debian container.
guest-assets-darwin:
	@test -f $(GUEST_DIR)/vmlinux -a -f $(GUEST_DIR)/kernel.release -a -d $(GUEST_DIR)/modules || { \
		echo "no guest kernel in $(GUEST_DIR); make it in a Debian container, e.g." >&2; \
		echo "  docker run --rm -v \"\$$PWD\":/src -w /src golang:bookworm sh -c 'apt-get update -qq && apt-get install -y -qq kmod && make guest guest-assets GUEST_ARCH=arm64'" >&2; \
		exit 1; }

# e2e-mac is the whole path on a Mac, one line per step (scripts/e2e-mac.sh):
# build and sign, start pierd, pull by platform, run native and amd64
# (Rosetta), a published port, a bind mount, stop, rm.
e2e-mac:
ifeq ($(UNAME_S),Darwin)
	bash scripts/e2e-mac.sh
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
