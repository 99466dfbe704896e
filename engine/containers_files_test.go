package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

func tarWith(t *testing.T, name, data string) *bytes.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o640, Size: int64(len(data)), ModTime: time.Unix(1700000000, 0)})
	tw.Write([]byte(data))
	tw.Close()
	return bytes.NewReader(buf.Bytes())
}

// A container that is not running gets one maintenance session for a run
// of file operations; a start waits for the copy under way, and the
// session is closed before the container's VM boots.
func TestFilesOfAStoppedContainerUseOneMaintenanceSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t, "web", "sleep", "inf")

	if err := f.c.ContainerExtractToDir(ctx, "web", "/etc", engine.CopyOptions{}, tarWith(t, "app.conf", "x=1\n")); err != nil {
		t.Fatal(err)
	}
	st, err := f.c.ContainerStatPath(ctx, "web", "/etc/app.conf")
	if err != nil || st.Name != "app.conf" || st.Size != 4 {
		t.Fatalf("stat = %+v, %v", st, err)
	}
	if n := f.rt.FileSessions(); n != 1 {
		t.Fatalf("%d maintenance sessions for two operations in a row, want 1", n)
	}

	// A download holds the session: the start waits for its end.
	_, rc, err := f.c.ContainerArchivePath(ctx, "web", "/etc/app.conf")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- f.c.ContainerStart(ctx, "web") }()
	select {
	case err := <-started:
		t.Fatalf("the start did not wait for the copy: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	if err := <-started; err != nil {
		t.Fatalf("start after the copy: %v", err)
	}
	if n := f.rt.OpenSessions(); n != 0 {
		t.Fatalf("%d maintenance sessions open while the container runs", n)
	}

	// A running container's files come from its VM.
	if _, err := f.c.ContainerStatPath(ctx, id, "/etc/app.conf"); err != nil {
		t.Fatal(err)
	}
	if n := f.rt.FileSessions(); n != 1 {
		t.Fatalf("a running container's file operation opened a maintenance session (%d)", n)
	}
	changes, err := f.c.ContainerChanges(ctx, "web")
	if err != nil || len(changes) != 1 || changes[0] != (engine.Change{Path: "/etc/app.conf", Kind: engine.ChangeAdd}) {
		t.Fatalf("changes = %+v, %v", changes, err)
	}
	if err := f.c.ContainerKill(ctx, "web", ""); err != nil {
		t.Fatal(err)
	}
	// Exited: a new session; a removal closes it.
	if _, err := f.c.ContainerStatPath(ctx, "web", "/etc"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerRemove(ctx, "web", engine.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := f.rt.OpenSessions(); n != 0 {
		t.Fatalf("%d maintenance sessions open after the removal", n)
	}
}

func TestFileErrorsAreDockers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, "web", "sleep", "inf")

	_, err := f.c.ContainerStatPath(ctx, "web", "/nope")
	if !errdefs.IsNotFound(err) || err.Error() != "Could not find the file /nope in container web" {
		t.Fatalf("stat of a missing path: %v", err)
	}
	_, _, err = f.c.ContainerArchivePath(ctx, "nothing", "/")
	if !errdefs.IsNotFound(err) || err.Error() != "No such container: nothing" {
		t.Fatalf("unknown container: %v", err)
	}
	err = f.c.ContainerExtractToDir(ctx, "web", "/etc/passwd", engine.CopyOptions{}, tarWith(t, "f", "x"))
	if !errdefs.IsInvalidParameter(err) || err.Error() != "extraction point is not a directory" {
		t.Fatalf("extract into a file: %v", err)
	}

	res, err := f.c.ContainerCreate(ctx, engine.CreateRequest{
		Name:       "ro",
		Config:     container.Config{Image: "busybox", Cmd: []string{"sleep", "inf"}},
		HostConfig: container.HostConfig{ReadonlyRootfs: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = f.c.ContainerExtractToDir(ctx, res.ID, "/etc", engine.CopyOptions{}, tarWith(t, "f", "x"))
	if !errdefs.IsInvalidParameter(err) || err.Error() != "container rootfs is marked read-only" {
		t.Fatalf("extract into a read-only root: %v", err)
	}
	// A container that never ran has no changes, and no VM is booted for it.
	before := f.rt.FileSessions()
	if changes, err := f.c.ContainerChanges(ctx, "ro"); err != nil || len(changes) != 0 {
		t.Fatalf("changes of a new container: %+v, %v", changes, err)
	}
	if f.rt.FileSessions() != before {
		t.Fatal("diff of a container that never ran booted a maintenance VM")
	}
}

func TestFileOperationsPublishDockersEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, "web", "sleep", "inf")
	_, live, cancel := f.bus.Subscribe()
	defer cancel()
	if err := f.c.ContainerExtractToDir(ctx, "web", "/etc", engine.CopyOptions{}, tarWith(t, "f", "x")); err != nil {
		t.Fatal(err)
	}
	_, rc, err := f.c.ContainerArchivePath(ctx, "web", "/etc/f")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	exp, err := f.c.ContainerExport(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	exp.Close()
	var got []string
	for len(got) < 3 {
		select {
		case e := <-live:
			got = append(got, e.Action)
		case <-time.After(5 * time.Second):
			t.Fatalf("events = %v", got)
		}
	}
	if want := []string{"extract-to-dir", "archive-path", "export"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
}

// docker cp -a gives the files to the container's user; without it they
// keep the archive's owners.
func TestCopyUIDGIDUsesTheContainersUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.c.ContainerCreate(ctx, engine.CreateRequest{Name: "app", Config: container.Config{Image: "busybox", User: "app", Cmd: []string{"sleep", "inf"}}}); err != nil {
		t.Fatal(err)
	}
	owner := func(name string) int {
		_, rc, err := f.c.ContainerArchivePath(ctx, "app", "/etc/"+name)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		hdr, err := tar.NewReader(rc).Next()
		if err != nil {
			t.Fatal(err)
		}
		return hdr.Uid
	}
	in := func() *bytes.Reader {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 77})
		tw.Close()
		return bytes.NewReader(buf.Bytes())
	}
	if err := f.c.ContainerExtractToDir(ctx, "app", "/etc", engine.CopyOptions{}, in()); err != nil {
		t.Fatal(err)
	}
	if uid := owner("f"); uid != 77 {
		t.Fatalf("without -a the owner is %d, want the archive's 77", uid)
	}
	if err := f.c.ContainerExtractToDir(ctx, "app", "/etc", engine.CopyOptions{CopyUIDGID: true}, in()); err != nil {
		t.Fatal(err)
	}
	if uid := owner("f"); uid != 1000 {
		t.Fatalf("with -a the owner is %d, want the user app's (1000 in the fake)", uid)
	}
}
