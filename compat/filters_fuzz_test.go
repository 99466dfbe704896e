package compat

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"

	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/errdefs"
)

// FuzzParseFilters feeds arbitrary `filters` query values to ParseFilters
// and every list, prune and events filter built on it: nothing panics,
// every refusal is an invalid-parameter error (a 400, never a 500), and
// accepted filters survive a round trip through their JSON form.
func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"label":{"a=b":true}}`, `{"name":["web"]}`, `{"status":{"running":true}}`,
		`{"publish":{"8000-8002/udp":true}}`, `{"expose":{"80:80":true}}`, `{"until":{"10m":true}}`,
		`{"until":{"2024-01-01T00:00:00Z":true,"1h":true}}`, `{"dangling":{"maybe":true}}`,
		`{"before":{"busybox":true}}`, `{"since":{"1700000000.5":true}}`, `{"type":{"container":true}}`,
		`{"bogus":{"x":true}}`, `{"label":["a","b"]}`, `{"label":{"a":false}}`, `{"label":"x"}`,
		`[1,2]`, `null`, `{"a":null}`, `{"publish":{"99999":true}}`, `{"driver":{"bridge":true}}`,
		`{"scope":{"local":true}}`, `{"label!":{"x":true}}`, `{"health":{"healthy":true}}`,
	} {
		f.Add(s)
	}
	now := time.Unix(1_700_000_000, 0)
	noImage := func(ref string) (*image.Image, error) { return nil, errdefs.NotFoundf("No such image: %s", ref) }
	f.Fuzz(func(t *testing.T, raw string) {
		args, err := ParseFilters(raw)
		if err != nil {
			if !errdefs.IsInvalidParameter(err) {
				t.Fatalf("ParseFilters(%q): %v is not an invalid-parameter error", raw, err)
			}
			return
		}
		if args.Len() > 0 {
			js, err := filters.ToJSON(args)
			if err != nil {
				t.Fatalf("ParseFilters(%q) accepted filters that do not encode: %v", raw, err)
			}
			back, err := ParseFilters(js)
			if err != nil {
				t.Fatalf("ParseFilters(%q) = %s, which does not parse back: %v", raw, js, err)
			}
			js2, _ := filters.ToJSON(back)
			if js2 != js {
				t.Fatalf("round trip of %q: %s != %s", raw, js2, js)
			}
		}
		check := func(what string, err error) {
			if err != nil && !errdefs.IsInvalidParameter(err) && !errdefs.IsNotFound(err) {
				t.Fatalf("%s filter of %q: %v (%T) is neither invalid-parameter nor not-found", what, raw, err, err)
			}
		}
		_, _, err = ContainerListFilter(args)
		check("container list", err)
		_, err = PruneFilter(args, now)
		check("container prune", err)
		_, err = EventFilter(args)
		check("events", err)
		_, err = NewImageListFilter(args, false, noImage)
		check("image list", err)
		_, err = NewNetworkListFilter(args)
		check("network list", err)
		_, err = NetworkPruneFilter(args, now)
		check("network prune", err)
		_, err = NewVolumeListFilter(args)
		check("volume list", err)
		_, _, err = VolumePruneFilter(args)
		check("volume prune", err)
	})
}
