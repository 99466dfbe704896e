package container_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

func oneFileTar(t *testing.T, name, data string, mode int64, mtime time.Time) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data)), ModTime: mtime, Uid: 33, Gid: 44}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(data))
	tw.Close()
	return &buf
}

// raw sends a request and returns the status, the path-stat header
// decoded (nil when absent) and the body.
func raw(t *testing.T, method, url string, body io.Reader) (int, map[string]any, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var stat map[string]any
	if h := resp.Header.Get("X-Docker-Container-Path-Stat"); h != "" {
		js, err := base64.StdEncoding.DecodeString(h)
		if err != nil {
			t.Fatalf("path stat header %q: %v", h, err)
		}
		if err := json.Unmarshal(js, &stat); err != nil {
			t.Fatalf("path stat header %s: %v", js, err)
		}
	}
	return resp.StatusCode, stat, string(b)
}

func TestArchiveRoutes(t *testing.T) {
	cli, url := newAPI(t)
	ctx := context.Background()
	create(t, cli, "files", &container.Config{Cmd: []string{"sleep", "inf"}}, nil)
	mtime := time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC)

	// docker cp into a created container, then out again.
	err := cli.CopyToContainer(ctx, "files", "/etc", oneFileTar(t, "app.conf", "port=80\n", 0o640, mtime), container.CopyToContainerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := cli.ContainerStatPath(ctx, "files", "/etc/app.conf")
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "app.conf" || st.Size != 8 || st.Mode != 0o640 || !st.Mtime.Equal(mtime) {
		t.Fatalf("stat = %+v", st)
	}
	rc, st, err := cli.CopyFromContainer(ctx, "files", "/etc/app.conf")
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(tr)
	rc.Close()
	if hdr.Name != "app.conf" || string(data) != "port=80\n" || hdr.Uid != 33 || st.Name != "app.conf" {
		t.Fatalf("copied out %+v %q (stat %+v)", hdr, data, st)
	}

	// A gzip-compressed archive (testcontainers-go sends those).
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.Copy(zw, oneFileTar(t, "tmp/zipped.txt", "z", 0o644, mtime))
	zw.Close()
	if err := cli.CopyToContainer(ctx, "files", "/", &gz, container.CopyToContainerOptions{}); err != nil {
		t.Fatalf("gzip archive: %v", err)
	}
	if st, err := cli.ContainerStatPath(ctx, "files", "/tmp/zipped.txt"); err != nil || st.Size != 1 {
		t.Fatalf("stat of the gzipped file: %+v, %v", st, err)
	}

	// The raw routes: header, statuses and dockerd's texts.
	status, stat, _ := raw(t, "HEAD", url+"/v1.51/containers/files/archive?path=/etc", nil)
	if status != 200 || stat["name"] != "etc" || os.FileMode(stat["mode"].(float64))&os.ModeDir == 0 {
		t.Fatalf("HEAD /etc: %d %v", status, stat)
	}
	status, stat, body := raw(t, "GET", url+"/v1.51/containers/files/archive?path=/etc", nil)
	if status != 200 || stat["name"] != "etc" || !strings.Contains(body, "etc/app.conf") {
		t.Fatalf("GET /etc: %d %v %q", status, stat, body)
	}
	for _, c := range []struct {
		method, path string
		status       int
		message      string
	}{
		{"GET", "/containers/files/archive", 400, "bad parameter: pathcannot be empty"},
		{"HEAD", "/containers/files/archive", 400, ""},
		{"GET", "/containers/files/archive?path=/nope", 404, "Could not find the file /nope in container files"},
		{"HEAD", "/containers/files/archive?path=/nope", 404, ""},
		{"GET", "/containers/ghost/archive?path=/", 404, "No such container: ghost"},
		{"PUT", "/containers/files/archive?path=/etc/passwd", 400, "extraction point is not a directory"},
		{"PUT", "/containers/files/archive?path=/no/dir", 404, "Could not find the file /no/dir in container files"},
		{"PUT", "/containers/files/archive", 400, "bad parameter: pathcannot be empty"},
		{"GET", "/containers/ghost/export", 404, "No such container: ghost"},
		{"GET", "/containers/ghost/changes", 404, "No such container: ghost"},
	} {
		status, _, body := raw(t, c.method, url+"/v1.51"+c.path, oneFileTar(t, "f", "x", 0o644, mtime))
		if status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, status, body, c.status)
			continue
		}
		if c.message != "" {
			var e struct{ Message string }
			if json.Unmarshal([]byte(body), &e); e.Message != c.message {
				t.Errorf("%s %s: message %q, want %q", c.method, c.path, e.Message, c.message)
			}
		}
	}

	// docker diff and docker export.
	changes, err := cli.ContainerDiff(ctx, "files")
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Path != "/etc/app.conf" || changes[0].Kind != container.ChangeAdd {
		t.Fatalf("diff = %+v", changes)
	}
	exp, err := cli.ContainerExport(ctx, "files")
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	var names []string
	tr = tar.NewReader(exp)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "etc/app.conf") {
		t.Fatalf("export = %q", names)
	}
}
