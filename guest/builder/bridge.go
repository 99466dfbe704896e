package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/pier-vm/pier/guest/proto"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"
)

// PlaceholderHost is the registry host of the name the `moby` exporter
// pushes an image under when the build gave it none: the bridge exports
// such an image to pierd without names.
const PlaceholderHost = "pier.invalid"

// pushHeader marks the requests of a push (see withPush): a manifest they
// miss is not asked of pierd.
const pushHeader = "Pier-Push"

// platformHeader carries the platform BuildKit resolves an image for from
// the client side of the bridge (the context of BuildKit's request) to its
// handler.
const platformHeader = "Pier-Platform"

// Bridge is the registry of every host BuildKit pulls from or pushes to:
// one in-process go-containerregistry registry per host (blobs shared on
// disk under <root>/registry/blobs), wrapped so that
//   - a manifest the registry lacks is asked of pierd (resolve) and loaded
//     from the docker-save tarball pierd writes to <root>/imports;
//   - a manifest pushed under a tag is written as a docker-save tarball to
//     <root>/exports and handed to pierd (export) before the push is
//     answered.
//
// Bridge is the http.Handler of that registry; serve it (Serve) and give
// BuildKit RegistryHosts with a Client of it.
type Bridge struct {
	host    Requester
	imports string
	exports string
	blobs   registry.BlobHandler
	stat    registry.BlobStatHandler
	put     registry.BlobPutHandler
	// platform is the daemon's own platform (os/arch[/variant]): the
	// image an exported index stands for when it has several.
	platform string
	regLog   *log.Logger

	mu     sync.Mutex
	regs   map[string]http.Handler
	tags   map[string]map[string]tagImage // by host/repo:tag, then platform
	flight singleflight.Group
}

// NewBridge makes the bridge's directories under root. platform is the
// daemon's own platform.
func NewBridge(host Requester, root, platform string) (*Bridge, error) {
	b := &Bridge{
		host:     host,
		imports:  filepath.Join(root, "imports"),
		exports:  filepath.Join(root, "exports"),
		platform: platform,
		regs:     map[string]http.Handler{},
		regLog:   log.New(io.Discard, "", 0),
	}
	blobDir := filepath.Join(root, "registry", "blobs")
	for _, d := range []string{b.imports, b.exports, blobDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	b.blobs = registry.NewDiskBlobHandler(blobDir)
	var ok1, ok2 bool
	b.stat, ok1 = b.blobs.(registry.BlobStatHandler)
	b.put, ok2 = b.blobs.(registry.BlobPutHandler)
	if !ok1 || !ok2 {
		return nil, errors.New("builder: the disk blob handler cannot stat or put")
	}
	if logrus.IsLevelEnabled(logrus.DebugLevel) {
		b.regLog = log.New(logrus.StandardLogger().WriterLevel(logrus.DebugLevel), "registry: ", 0)
	}
	return b, nil
}

// Serve serves the bridge on l until l is closed.
func (b *Bridge) Serve(l net.Listener) error {
	srv := &http.Server{Handler: b}
	err := srv.Serve(l)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Client returns an HTTP client whose every request, for any host, goes
// in plain HTTP to the bridge served by dial (the request's Host stays
// the registry's), with the platform of WithPlatform in a header.
func Client(dial func(ctx context.Context) (net.Conn, error)) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dial(ctx)
		},
		MaxIdleConnsPerHost: 16,
	}
	return &http.Client{Transport: platformTransport{tr}}
}

type platformTransport struct{ next http.RoundTripper }

func (t platformTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p, _ := req.Context().Value(platformKey{}).(string)
	push, _ := req.Context().Value(pushKey{}).(bool)
	if p == "" && !push && req.URL.Scheme == "http" {
		return t.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.URL.Scheme = "http"
	if p != "" {
		req.Header.Set(platformHeader, p)
	}
	if push {
		req.Header.Set(pushHeader, "1")
	}
	return t.next.RoundTrip(req)
}

type platformKey struct{}

type pushKey struct{}

// withPush marks ctx as a push's: the pusher's check whether the registry
// has the manifest (a HEAD of the tag) must not make the bridge ask pierd
// for it.
func withPush(ctx context.Context) context.Context {
	return context.WithValue(ctx, pushKey{}, true)
}

// WithPlatform records in ctx the platform (os/arch[/variant]) an image is
// resolved for; the bridge passes it on to pierd.
func WithPlatform(ctx context.Context, platform string) context.Context {
	return context.WithValue(ctx, platformKey{}, platform)
}

// RegistryHosts gives BuildKit, for every host, the bridge reached with
// client (see Client).
func RegistryHosts(client *http.Client) docker.RegistryHosts {
	return func(host string) ([]docker.RegistryHost, error) {
		return []docker.RegistryHost{{
			Client:       client,
			Host:         host,
			Scheme:       "http",
			Path:         "/v2",
			Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve | docker.HostCapabilityPush,
		}}, nil
	}
}

// canonicalHost names Docker Hub's registry hosts docker.io.
func canonicalHost(h string) string {
	switch h = strings.ToLower(h); h {
	case "", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return h
}

// registry returns the in-process registry of host.
func (b *Bridge) registry(host string) http.Handler {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.regs[host]
	if !ok {
		r = registry.New(registry.WithBlobHandler(b.blobs), registry.Logger(b.regLog))
		b.regs[host] = r
	}
	return r
}

// manifestPath splits /v2/<repo>/manifests/<reference>.
func manifestPath(p string) (repo, ref string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	repo, ref = rest[:i], rest[i+len("/manifests/"):]
	if ref == "" || strings.Contains(ref, "/") {
		return "", "", false
	}
	return repo, ref, true
}

func isDigest(ref string) bool { return strings.Contains(ref, ":") }

// refString is the normalised reference of repo:tag or repo@digest.
func refString(host, repo, ref string) string {
	if isDigest(ref) {
		return host + "/" + repo + "@" + ref
	}
	return host + "/" + repo + ":" + ref
}

// ServeHTTP serves the registry API of the request's host, with the
// resolve and export interceptions.
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := canonicalHost(r.Host)
	reg := b.registry(host)
	repo, ref, ok := manifestPath(r.URL.Path)
	if !ok {
		reg.ServeHTTP(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if r.Header.Get(pushHeader) == "" {
			var err error
			platform := r.Header.Get(platformHeader)
			switch {
			case !isDigest(ref):
				// A tag may stand for several platforms: pierd is asked
				// for each one the first time it is wanted.
				if platform == "" {
					platform = b.platform
				}
				err = b.resolveTag(r.Context(), reg, host, repo, ref, platform)
			case !hasManifest(reg, repo, ref):
				err = b.resolve(r.Context(), reg, host, repo, ref, platform)
			}
			if err != nil {
				logrus.Warnf("builder: resolving %s: %v", refString(host, repo, ref), err)
				writeRegError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", err.Error())
				return
			}
		}
		reg.ServeHTTP(w, r)
	case http.MethodPut:
		if isDigest(ref) {
			reg.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		if rec.Code == http.StatusCreated {
			if err := b.export(r.Context(), reg, host, repo, ref); err != nil {
				logrus.Warnf("builder: exporting %s: %v", refString(host, repo, ref), err)
				writeRegError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
				return
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	default:
		reg.ServeHTTP(w, r)
	}
}

// writeRegError answers with the registry API's error JSON.
func writeRegError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

// call makes an in-process request of reg (manifests only: the answer is
// held in memory).
func call(reg http.Handler, method, target, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", strings.Join(manifestTypes, ", "))
	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, req)
	return rec
}

var manifestTypes = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

func hasManifest(reg http.Handler, repo, ref string) bool {
	return call(reg, http.MethodHead, "/v2/"+repo+"/manifests/"+ref, "", nil).Code == http.StatusOK
}

// resolve asks pierd for host/repo:ref and stores its image in reg; calls
// for the same image share one request.
func (b *Bridge) resolve(ctx context.Context, reg http.Handler, host, repo, ref, platform string) error {
	key := refString(host, repo, ref) + "|" + platform
	_, err, _ := b.flight.Do(key, func() (any, error) {
		if hasManifest(reg, repo, ref) {
			return nil, nil
		}
		return nil, b.resolveOnce(ctx, reg, host, repo, ref, platform)
	})
	return err
}

func (b *Bridge) resolveOnce(ctx context.Context, reg http.Handler, host, repo, ref, platform string) error {
	return b.fromPierd(ctx, refString(host, repo, ref), platform, func(img v1.Image) error {
		return b.store(ctx, reg, repo, ref, img)
	})
}

// fromPierd asks pierd for its image of name and platform and hands it to
// use while its docker-save tarball exists (use must store what it needs).
func (b *Bridge) fromPierd(ctx context.Context, name, platform string, use func(v1.Image) error) error {
	f, err := os.CreateTemp(b.imports, "resolve-*.tar")
	if err != nil {
		return err
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	if _, err := b.host.Request(ctx, proto.BuilderRequest{
		Op: proto.BuilderResolve, Ref: name, Platform: platform, Path: path,
	}); err != nil {
		return err
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return fmt.Errorf("loading pierd's image for %s: %w", name, err)
	}
	return use(img)
}

// store writes img's blobs to the blob store and its manifest under
// repo:ref (a digest ref must be img's own digest).
func (b *Bridge) store(ctx context.Context, reg http.Handler, repo, ref string, img v1.Image) error {
	dig, err := img.Digest()
	if err != nil {
		return err
	}
	if isDigest(ref) && dig.String() != ref {
		return fmt.Errorf("pierd's image for %s@%s has the digest %s", repo, ref, dig)
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		if _, err := b.stat.Stat(ctx, repo, d); err == nil {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = b.put.Put(ctx, repo, d, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("storing layer %s: %w", d, err)
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := b.put.Put(ctx, repo, cfgName, io.NopCloser(bytes.NewReader(cfg))); err != nil {
		return fmt.Errorf("storing the config: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	if rec := call(reg, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, string(mt), raw); rec.Code != http.StatusCreated {
		return fmt.Errorf("storing the manifest: %d %s", rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	return nil
}
