package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/docker/go-connections/tlsconfig"
	"github.com/spf13/pflag"

	"github.com/pier-vm/pier/server"
)

// apiTLS are the TLS settings of the API's tcp listeners, with dockerd's
// flags and meaning: --tls serves TLS, --tlsverify (given at all) serves
// TLS too, and client certificates signed by --tlscacert are required
// unless --tlsverify=false. Unix sockets never use TLS.
type apiTLS struct {
	tls, verify       bool
	tlsSet, verifySet bool // the flags were given on the command line
	caFile            string
	certFile          string
	keyFile           string
}

// insecureTCPWarning is dockerd's warning for a tcp listener that does not
// verify its clients.
const insecureTCPWarning = "Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network."

// addTLSFlags adds dockerd's TLS flags, whose files default to
// $DOCKER_CERT_PATH (else ~/.docker)/{ca,cert,key}.pem as dockerd's do.
func addTLSFlags(f *pflag.FlagSet, t *apiTLS) {
	dir := os.Getenv("DOCKER_CERT_PATH")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".docker")
	}
	f.BoolVar(&t.tls, "tls", false, "Use TLS on tcp:// hosts; implied by --tlsverify")
	f.BoolVar(&t.verify, "tlsverify", false, "Use TLS on tcp:// hosts and require client certificates signed by --tlscacert")
	f.StringVar(&t.caFile, "tlscacert", filepath.Join(dir, "ca.pem"), "Trust client certificates signed only by this CA")
	f.StringVar(&t.certFile, "tlscert", filepath.Join(dir, "cert.pem"), "Path to the server's TLS certificate file")
	f.StringVar(&t.keyFile, "tlskey", filepath.Join(dir, "key.pem"), "Path to the server's TLS key file")
}

// noteChanged records which TLS flags the command line gave.
func (t *apiTLS) noteChanged(f *pflag.FlagSet) {
	t.tlsSet = f.Changed("tls")
	t.verifySet = f.Changed("tlsverify")
}

// enabled says whether tcp listeners serve TLS.
func (t apiTLS) enabled() bool { return t.verifySet || (t.tlsSet && t.tls) }

// verifiesClients says whether tcp listeners require a client certificate
// signed by the CA: with TLS on, unless --tlsverify=false.
func (t apiTLS) verifiesClients() bool {
	return t.enabled() && (!t.verifySet || t.verify)
}

// explicitlyUnverified is the operator's "I know": --tls=false or
// --tlsverify=false, dockerd's override for binding without verification.
func (t apiTLS) explicitlyUnverified() bool {
	return (t.tlsSet && !t.tls) || (t.verifySet && !t.verify)
}

// serverConfig is the TLS configuration of the tcp listeners (nil without
// TLS).
func (t apiTLS) serverConfig() (*tls.Config, error) {
	if !t.enabled() {
		return nil, nil
	}
	opts := tlsconfig.Options{CAFile: t.caFile, CertFile: t.certFile, KeyFile: t.keyFile, ExclusiveRootPools: true}
	if t.verifiesClients() {
		opts.ClientAuth = tls.RequireAndVerifyClientCert
	} else {
		opts.CAFile = ""
	}
	cfg, err := tlsconfig.Server(opts)
	if err != nil {
		return nil, fmt.Errorf("invalid TLS configuration: %w", err)
	}
	return cfg, nil
}

// checkTCPHosts warns, as dockerd does, about every tcp host that does not
// verify its clients, and refuses such a host on an address other than
// loopback unless the operator said --tls=false or --tlsverify=false
// (where dockerd, since 27, only slows its start down and says the
// override will be required).
func checkTCPHosts(hosts []string, t apiTLS, log *slog.Logger) error {
	if t.verifiesClients() {
		return nil
	}
	for _, h := range hosts {
		proto, addr, err := server.ParseAddr(h)
		if err != nil || proto != "tcp" {
			continue
		}
		log.Warn(insecureTCPWarning, "host", h)
		log.Warn("Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!", "host", h)
		if t.explicitlyUnverified() || isLoopback(addr) {
			continue
		}
		return fmt.Errorf("%s Refusing to listen on %s: use --tlsverify with --tlscacert, --tlscert and --tlskey, or override this by explicitly specifying '--tls=false' or '--tlsverify=false'", insecureTCPWarning, h)
	}
	return nil
}

// isLoopback says whether host:port names only this machine: localhost or
// a loopback address (a name is looked up; an empty host is every
// interface).
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}
