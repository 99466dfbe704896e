package engine

import (
	"slices"
	"testing"
)

// Link variables as dockerd makes them: TCP first, runs of consecutive
// ports also as _START/_END, a dash in the alias as an underscore.
func TestLinkEnv(t *testing.T) {
	got := linkEnv("/web/my-db", "10.0.0.2", []string{"53/udp", "81/tcp", "80/tcp", "90/tcp"}, []string{"A=1", "PATH=/bin", "B"})
	want := []string{
		"MY_DB_PORT=tcp://10.0.0.2:80",
		"MY_DB_PORT_80_TCP=tcp://10.0.0.2:80", "MY_DB_PORT_80_TCP_ADDR=10.0.0.2", "MY_DB_PORT_80_TCP_PORT=80", "MY_DB_PORT_80_TCP_PROTO=tcp",
		"MY_DB_PORT_81_TCP=tcp://10.0.0.2:81", "MY_DB_PORT_81_TCP_ADDR=10.0.0.2", "MY_DB_PORT_81_TCP_PORT=81", "MY_DB_PORT_81_TCP_PROTO=tcp",
		"MY_DB_PORT_80_TCP_START=tcp://10.0.0.2:80", "MY_DB_PORT_80_TCP_PORT_START=80", "MY_DB_PORT_80_TCP_END=tcp://10.0.0.2:81", "MY_DB_PORT_80_TCP_PORT_END=81",
		"MY_DB_PORT_90_TCP=tcp://10.0.0.2:90", "MY_DB_PORT_90_TCP_ADDR=10.0.0.2", "MY_DB_PORT_90_TCP_PORT=90", "MY_DB_PORT_90_TCP_PROTO=tcp",
		"MY_DB_PORT_53_UDP=udp://10.0.0.2:53", "MY_DB_PORT_53_UDP_ADDR=10.0.0.2", "MY_DB_PORT_53_UDP_PORT=53", "MY_DB_PORT_53_UDP_PROTO=udp",
		"MY_DB_NAME=/web/my-db",
		"MY_DB_ENV_A=1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("linkEnv:\n%q\nwant\n%q", got, want)
	}
}

func TestParseLink(t *testing.T) {
	for spec, want := range map[string]link{
		"db":             {"db", "db"},
		"db:alias":       {"db", "alias"},
		"/db:/web/alias": {"db", "alias"},
	} {
		if got, err := parseLink(spec); err != nil || got != want {
			t.Errorf("%q: %+v, %v", spec, got, err)
		}
	}
	for _, bad := range []string{"", "a:b:c", ":x", "db:"} {
		if _, err := parseLink(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
