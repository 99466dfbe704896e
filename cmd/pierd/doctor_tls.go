package main

import (
	"io"
	"log/slog"
	"strings"

	"github.com/pier-vm/pier/server"
)

// checkTLS says how the tcp:// hosts will be served: refused (plain tcp
// off loopback without --tls=false or --tlsverify=false, or TLS files that
// do not load), TLS with client certificates, TLS without them, or plain
// HTTP (dockerd's warning). Without tcp hosts it says nothing.
func checkTLS(env doctorEnv) []finding {
	const name = "tls"
	var tcp []string
	for _, h := range env.hosts {
		if proto, _, err := server.ParseAddr(h); err == nil && proto == "tcp" {
			tcp = append(tcp, h)
		}
	}
	if len(tcp) == 0 {
		return nil
	}
	hosts := strings.Join(tcp, ", ")
	if err := checkTCPHosts(tcp, env.tls, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return []finding{fail(name, "%v", err)}
	}
	if !env.tls.enabled() {
		return []finding{warn(name, "%s: plain HTTP. %s", hosts, insecureTCPWarning)}
	}
	if _, err := env.tls.serverConfig(); err != nil {
		return []finding{fail(name, "%s: %v", hosts, err)}
	}
	if env.tls.verifiesClients() {
		return []finding{ok(name, "%s: TLS, clients need a certificate signed by %s", hosts, env.tls.caFile)}
	}
	return []finding{warn(name, "%s: TLS without client certificates (--tlsverify=false). %s", hosts, insecureTCPWarning)}
}
