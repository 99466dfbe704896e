package e2e

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docker export | docker import, the classic round trip: a container's
// file system exported and imported (from a file and, gzipped, from
// stdin) is an image that runs, with -c and -m applied; what is not a tar
// archive is refused. And dockerd's image events for it all: tag,
// import, push, save, untag, pull, delete, load, prune, with `docker
// events --filter image=` matching a repository without its tag; and an
// image prune with label and until filters.
func TestImportAndImageEvents(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	since := strconv.FormatInt(time.Now().Unix(), 10)

	d.ok(t, "create", "--name", "import-src", bb, "true")
	defer d.docker(t, "", "rm", "-f", "import-src")
	dir := t.TempDir()
	rootTar := filepath.Join(dir, "root.tar")
	d.ok(t, "export", "-o", rootTar, "import-src")
	id := strings.TrimSpace(d.ok(t, "import", "-c", "LABEL team=blue", "-c", `CMD ["echo", "imported"]`, "-m", "round trip", rootTar, "e2e-imported:v1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("docker import printed %q", id)
	}
	if out := d.ok(t, "run", "--rm", "e2e-imported:v1"); out != "imported\n" {
		t.Fatalf("run of the imported image: %q", out)
	}
	if out := d.ok(t, "inspect", "-f", "{{.Id}} {{.Comment}} {{.Config.Labels.team}} {{.Os}}/{{.Architecture}} {{len .RootFS.Layers}}", "e2e-imported:v1"); out != id+" round trip blue linux/amd64 1\n" {
		t.Fatalf("inspect of the imported image: %q", out)
	}

	raw, err := os.ReadFile(rootTar)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	if _, errOut, code := d.docker(t, gz.String(), "import", "-", "e2e-imported:stdin"); code != 0 {
		t.Fatalf("import from stdin: %s", errOut)
	}
	if out := d.ok(t, "run", "--rm", "e2e-imported:stdin", "cat", "/etc/hostname"); out == "" {
		t.Fatal("the image imported from stdin has no /etc/hostname")
	}
	if out := d.ok(t, "history", "--format", "{{.Comment}}", "e2e-imported:stdin"); out != "Imported from -\n" {
		t.Fatalf("history of the stdin import: %q", out)
	}
	if _, errOut, code := d.docker(t, "garbage data here\n", "import", "-", "e2e-imported:bad"); code == 0 || !strings.Contains(errOut, "Error processing tar file") {
		t.Fatalf("import of garbage: %d %s", code, errOut)
	}

	// The image events dockerd sends for the usual image commands.
	pushed := reg.Host + "/e2e/imported:v1"
	d.ok(t, "tag", "e2e-imported:v1", pushed)
	d.ok(t, "push", pushed)
	saved := filepath.Join(dir, "saved.tar")
	d.ok(t, "save", "-o", saved, "e2e-imported:v1")
	d.ok(t, "rmi", pushed)
	d.ok(t, "pull", "-q", pushed)
	d.ok(t, "rmi", "e2e-imported:v1", pushed)
	d.ok(t, "load", "-q", "-i", saved)
	d.ok(t, "rmi", "e2e-imported:stdin")
	// Prune with dockerd's filters: only the unused image labelled blue
	// goes, not the busybox image nor anything created later than until.
	if out := d.ok(t, "image", "prune", "-a", "-f", "--filter", "label=team=blue", "--filter", "until=2000-01-01T00:00:00Z"); strings.Contains(out, id) {
		t.Fatalf("prune until 2000 removed the imported image:\n%s", out)
	}
	if out := d.ok(t, "image", "prune", "-a", "-f", "--filter", "label=team=blue"); !strings.Contains(out, "deleted: "+id) {
		t.Fatalf("prune of label=team=blue:\n%s", out)
	}
	d.ok(t, "image", "inspect", bb)
	d.ok(t, "image", "prune", "-f")
	until := strconv.FormatInt(time.Now().Unix()+1, 10)
	format := `{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "name"}} {{index .Actor.Attributes "team"}}`
	events := d.ok(t, "events", "--since", since, "--until", until, "--filter", "type=image", "--format", format)
	want := []string{
		"tag " + id + " e2e-imported:v1 blue",
		"import " + id + " " + id + " blue",
		"tag " + id + " " + pushed + " blue",
		"push " + pushed + " " + strings.TrimSuffix(pushed, ":v1") + " blue",
		"save " + id + " " + id + " blue",
		"untag " + id + " " + id + " blue",
		"pull " + pushed + " " + strings.TrimSuffix(pushed, ":v1") + " blue",
		"untag " + id + " " + id + " blue",
		"untag " + id + " " + id + " blue",
		"delete " + id + " " + id + " ",
		"load " + id + " " + id + " blue",
		"untag " + id + " " + id + " blue",
		"delete " + id + " " + id + " ",
		"prune   ",
	}
	t.Logf("image events:\n%s", events)
	if !subsequence(strings.Split(strings.TrimSpace(events), "\n"), want) {
		t.Fatalf("image events:\n%s\nwant, in this order:\n%s", events, strings.Join(want, "\n"))
	}
	byRepo := d.ok(t, "events", "--since", since, "--until", until, "--filter", "image=e2e-imported", "--format", "{{.Type}} {{.Action}}")
	if !subsequence(strings.Split(strings.TrimSpace(byRepo), "\n"), []string{"image tag", "container create"}) {
		t.Fatalf("events of image e2e-imported:\n%s", byRepo)
	}
}

// subsequence says whether want appears in got in order (other lines may
// come between).
func subsequence(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && strings.TrimRight(g, " ") == strings.TrimRight(want[i], " ") {
			i++
		}
	}
	return i == len(want)
}
