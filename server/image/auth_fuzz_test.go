package image

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/docker/docker/api/types/registry"

	"github.com/pier-vm/pier/errdefs"
)

// FuzzDecodeAuth feeds arbitrary X-Registry-Auth headers to decodeAuth:
// no panic, every refusal an invalid-parameter error (400), and what it
// accepts survives the docker client's own encoding unchanged.
func FuzzDecodeAuth(f *testing.F) {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.URLEncoding.EncodeToString(b)
	}
	for _, s := range []string{
		"", "e30=", "e30", "bnVsbA==", "!!!", enc(registry.AuthConfig{Username: "u", Password: "p", ServerAddress: "localhost:5000"}),
		base64.StdEncoding.EncodeToString([]byte(`{"username":"ü+/?","password":"\u0000"}`)),
		enc(map[string]any{"username": 5}), enc("string"), enc([]int{1}), "eyJ1c2VybmFtZSI6", enc(map[string]string{"identitytoken": "t"}),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		a, err := decodeAuth(header)
		if err != nil {
			if !errdefs.IsInvalidParameter(err) {
				t.Fatalf("decodeAuth(%q): %v is not an invalid-parameter error", header, err)
			}
			return
		}
		if header == "" {
			if a != nil {
				t.Fatalf("an empty header gave credentials %+v", a)
			}
			return
		}
		if a == nil {
			t.Fatalf("decodeAuth(%q) accepted the header but returned no credentials", header)
		}
		again, err := registry.EncodeAuthConfig(registry.AuthConfig{
			Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken,
			RegistryToken: a.RegistryToken, ServerAddress: a.ServerAddress,
		})
		if err != nil {
			t.Fatal(err)
		}
		b, err := decodeAuth(again)
		if err != nil || *b != *a {
			t.Fatalf("decodeAuth(%q) = %+v, re-encoded as %q decodes to %+v, %v", header, a, again, b, err)
		}
	})
}
