// Package builder is pier's BuildKit daemon for the builder VM
// (`pier-buildkitd`, guest/cmd/pier-buildkitd): a BuildKit controller with a
// runc worker whose RUN steps run inside that VM, serving BuildKit's gRPC API
// on a unix socket, and a registry bridge through which it pulls and pushes
// images from and to pierd.
//
// pierd runs `pier-buildkitd serve` as the builder VM's main process and
// talks to it in JSON lines over its stdin and stdout (guest/proto's
// builder protocol): Host multiplexes those lines. Every registry BuildKit
// talks to (for FROM, and the `moby` exporter's push) is served by Bridge,
// an in-process registry (go-containerregistry's) that asks pierd for an
// image it lacks (resolve) and hands every image pushed under a tag to
// pierd (export). Docker clients' gRPC reaches the daemon through
// `pier-dial-stdio` (package dialstdio), one exec per connection.
package builder
