package proto

// The builder protocol: pierd (engine/build) and the BuildKit daemon of
// its builder VM (guest/builder, `pier-buildkitd serve`) talk in JSON
// lines over that daemon's stdin and stdout, the main process's stdio of
// the builder's sandbox. It is separate from the agent protocol above: the
// agent carries the stdio, these lines ride in it.
//
// The daemon writes BuilderRequests on its stdout; pierd answers each with
// a BuilderReply of the same ID on the daemon's stdin. Requests may be in
// flight together. Bulk bytes never travel in these lines: images move as
// docker-save tarballs in files of the builder's file system, which pierd
// reads and writes through the agent's file operations.

// Builder request operations.
const (
	// BuilderReady says the daemon's gRPC API serves on its socket:
	// `pier-buildkitd dial-stdio` connects to it from then on. It needs no
	// reply.
	BuilderReady = "ready"
	// BuilderResolve asks pierd for an image a build starts from (FROM):
	// Ref is the normalised reference (docker.io/library/busybox:latest, or
	// name@sha256:…), Platform the wanted os/arch[/variant] (empty: the
	// host's). pierd writes a docker-save tarball of that one image, for
	// that platform, to the file Path, and replies; an image pierd cannot
	// find or pull is an Error (its message is shown to the user).
	BuilderResolve = "resolve"
	// BuilderExport gives pierd an image a build made: Path is a
	// docker-save tarball in the builder, Names the references to tag it
	// with (normalised; none for an untagged image). pierd loads it,
	// tags it and replies with its Image ID; the build's exporter returns
	// only then, so that the image is in pierd when the client is told the
	// build is done.
	BuilderExport = "export"
	// BuilderLookup asks which image pierd has now for Ref and Platform:
	// the reply's Image is its ID (config digest), an Error when pierd has
	// none. A tag resolved earlier is resolved again when pierd's image
	// changed (a rebuilt or re-pulled base).
	BuilderLookup = "lookup"
)

// BuilderRequest is one line the builder daemon writes on its stdout.
type BuilderRequest struct {
	ID       string   `json:"id,omitempty"`
	Op       string   `json:"op"`
	Ref      string   `json:"ref,omitempty"`
	Platform string   `json:"platform,omitempty"`
	Path     string   `json:"path,omitempty"`
	Names    []string `json:"names,omitempty"`
}

// BuilderReply is pierd's answer to the request of the same ID, one line on
// the daemon's stdin. Error is empty on success.
type BuilderReply struct {
	ID    string `json:"id"`
	Image string `json:"image,omitempty"`
	Error string `json:"error,omitempty"`
}
