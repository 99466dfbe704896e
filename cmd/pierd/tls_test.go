package main

import (
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/go-connections/tlsconfig"

	"github.com/pier-vm/pier/internal/testcerts"
	"github.com/pier-vm/pier/server"
)

func parseTLS(t *testing.T, args ...string) apiTLS {
	t.Helper()
	cmd := newRootCommand()
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	var o apiTLS
	o.tls, _ = cmd.Flags().GetBool("tls")
	o.verify, _ = cmd.Flags().GetBool("tlsverify")
	o.caFile, _ = cmd.Flags().GetString("tlscacert")
	o.noteChanged(cmd.Flags())
	return o
}

// TestTLSFlagsMeanWhatDockerdsMean checks each combination of --tls and
// --tlsverify against dockerd's reading of them.
func TestTLSFlagsMeanWhatDockerdsMean(t *testing.T) {
	for _, c := range []struct {
		args                     []string
		enabled, verify, explict bool
	}{
		{nil, false, false, false},
		{[]string{"--tls"}, true, true, false}, // dockerd: TLSVerify defaults to TLS
		{[]string{"--tls=false"}, false, false, true},
		{[]string{"--tlsverify"}, true, true, false},
		{[]string{"--tlsverify=false"}, true, false, true},
		{[]string{"--tls", "--tlsverify=false"}, true, false, true},
		{[]string{"--tls=false", "--tlsverify"}, true, true, true},
	} {
		o := parseTLS(t, c.args...)
		if o.enabled() != c.enabled || o.verifiesClients() != c.verify || o.explicitlyUnverified() != c.explict {
			t.Errorf("%v: enabled %v verify %v explicit %v, want %v %v %v", c.args,
				o.enabled(), o.verifiesClients(), o.explicitlyUnverified(), c.enabled, c.verify, c.explict)
		}
	}
	if o := parseTLS(t, "--tlscacert", "/x/ca.pem"); o.caFile != "/x/ca.pem" {
		t.Errorf("--tlscacert = %q", o.caFile)
	}
}

// TestPlainTCPOffLoopbackNeedsConsent checks that pierd refuses a tcp://
// host on an address other than loopback that does not verify clients,
// unless --tls=false or --tlsverify=false says so, and warns as dockerd
// does for every such host.
func TestPlainTCPOffLoopbackNeedsConsent(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, c := range []struct {
		host  string
		args  []string
		allow bool
	}{
		{"tcp://0.0.0.0:2375", nil, false},
		{"tcp://:2375", nil, false},
		{"tcp://192.0.2.1:2375", nil, false},
		{"tcp://0.0.0.0:2375", []string{"--tls=false"}, true},
		{"tcp://0.0.0.0:2375", []string{"--tlsverify=false"}, true},
		{"tcp://0.0.0.0:2376", []string{"--tlsverify"}, true},
		{"tcp://0.0.0.0:2376", []string{"--tls"}, true},
		{"tcp://127.0.0.1:2375", nil, true},
		{"tcp://[::1]:2375", nil, true},
		{"tcp://localhost:2375", nil, true},
		{"unix:///tmp/x.sock", nil, true},
	} {
		logs.Reset()
		err := checkTCPHosts([]string{c.host}, parseTLS(t, c.args...), log)
		if (err == nil) != c.allow {
			t.Errorf("%s %v: err %v, want allowed=%v", c.host, c.args, err, c.allow)
		}
		if err != nil && (!strings.Contains(err.Error(), insecureTCPWarning) || !strings.Contains(err.Error(), "'--tls=false' or '--tlsverify=false'")) {
			t.Errorf("%s: refusal %q does not say what dockerd says", c.host, err)
		}
		warned := strings.Contains(logs.String(), "Binding to IP address without --tlsverify is insecure")
		wantWarn := strings.HasPrefix(c.host, "tcp://") && !parseTLS(t, c.args...).verifiesClients()
		if warned != wantWarn {
			t.Errorf("%s %v: warned %v, want %v:\n%s", c.host, c.args, warned, wantWarn, logs.String())
		}
	}
}

// TestTLSListenerVerifiesClients serves /_ping on a tcp listener with
// --tlsverify's configuration: a client with a certificate signed by the
// CA gets through; one without a certificate, or with one signed by
// another CA, is refused during the handshake.
func TestTLSListenerVerifiesClients(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, "pier test CA")
	other := testcerts.NewCA(t, "someone else's CA")
	srv := ca.Server(t, filepath.Join(dir, "server"))
	good := ca.Client(t, filepath.Join(dir, "good"), ca)
	forged := other.Client(t, filepath.Join(dir, "forged"), ca)
	anon := ca.TrustOnly(t, filepath.Join(dir, "anon"))

	o := apiTLS{verify: true, verifySet: true, caFile: srv.CA, certFile: srv.Cert, keyFile: srv.Key}
	cfg, err := o.serverConfig()
	if err != nil {
		t.Fatal(err)
	}
	l, err := server.Listen("tcp://127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "OK") }), ErrorLog: nil}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	url := "https://" + l.Addr().String() + "/_ping"

	get := func(f testcerts.Files) (string, error) {
		ccfg, err := tlsconfig.Client(tlsconfig.Options{CAFile: f.CA, CertFile: f.Cert, KeyFile: f.Key})
		if err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: ccfg}}
		defer c.CloseIdleConnections()
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if body, err := get(good); err != nil || body != "OK" {
		t.Fatalf("client with a certificate of the CA: %q, %v", body, err)
	}
	for name, f := range map[string]testcerts.Files{"no certificate": anon, "another CA's certificate": forged} {
		if body, err := get(f); err == nil {
			t.Errorf("client with %s got through: %q", name, body)
		}
	}
	// Plain HTTP on the TLS port is no way around it either.
	if resp, err := http.Get("http://" + l.Addr().String() + "/_ping"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) == "OK" {
			t.Error("plain HTTP got through the TLS listener")
		}
	}
	// A missing CA file is a configuration error, as under dockerd.
	o.caFile = filepath.Join(dir, "missing.pem")
	if _, err := o.serverConfig(); err == nil || !strings.Contains(err.Error(), "invalid TLS configuration") {
		t.Errorf("missing CA file: %v", err)
	}
}

// TestDoctorSaysHowTCPHostsAreServed checks doctor's tls line: nothing
// without tcp hosts, a failure where pierd would refuse to start, a
// warning for plain or unverified tcp, ok for --tlsverify with files that
// load.
func TestDoctorSaysHowTCPHostsAreServed(t *testing.T) {
	dir := t.TempDir()
	srv := testcerts.NewCA(t, "doctor CA").Server(t, filepath.Join(dir, "server"))
	verify := apiTLS{verify: true, verifySet: true, caFile: srv.CA, certFile: srv.Cert, keyFile: srv.Key}
	broken := verify
	broken.keyFile = filepath.Join(dir, "missing-key.pem")
	for _, c := range []struct {
		hosts []string
		tls   apiTLS
		want  status // -1: no finding
	}{
		{[]string{"unix:///tmp/x.sock"}, apiTLS{}, -1},
		{[]string{"tcp://0.0.0.0:2375"}, apiTLS{}, statusFail},
		{[]string{"tcp://127.0.0.1:2375"}, apiTLS{}, statusWarn},
		{[]string{"tcp://0.0.0.0:2375"}, apiTLS{tlsSet: true}, statusWarn},
		{[]string{"tcp://0.0.0.0:2376"}, verify, statusOK},
		{[]string{"tcp://0.0.0.0:2376"}, broken, statusFail},
	} {
		got := checkTLS(doctorEnv{options: options{hosts: c.hosts, tls: c.tls}})
		switch {
		case c.want == -1 && len(got) != 0:
			t.Errorf("%v: %+v, want nothing", c.hosts, got)
		case c.want != -1 && (len(got) != 1 || got[0].status != c.want):
			t.Errorf("%v %+v: %+v, want %s", c.hosts, c.tls, got, c.want)
		}
	}
}
