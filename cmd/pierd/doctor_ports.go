package main

import (
	"os"

	"github.com/pier-vm/pier/engine/hostgw"
	"github.com/pier-vm/pier/engine/network"
)

// dockerEnvFile is the file that makes clients (testcontainers-go among
// them) believe they run inside a container and dial the bridge network's
// gateway for published ports instead of localhost.
const dockerEnvFile = "/.dockerenv"

// portsEnv is what checkPublishedPorts asks the host.
type portsEnv struct {
	// inContainer says whether dockerEnvFile exists.
	inContainer func() bool
	// gatewayLocal says whether the address is one of the host's own.
	gatewayLocal func() (bool, error)
	// root says whether pierd runs as root (and so can put the gateway on
	// its own interface).
	root func() bool
}

func hostPortsEnv() portsEnv {
	gw := network.DefaultGateway(network.DefaultBridgeSubnet)
	return portsEnv{
		inContainer: func() bool {
			_, err := os.Stat(dockerEnvFile)
			return err == nil
		},
		gatewayLocal: func() (bool, error) { return hostgw.Local(gw) },
		root:         func() bool { return os.Geteuid() == 0 },
	}
}

// checkPublishedPorts says whether a client in this environment reaches
// published ports: on localhost as a rule, through the bridge gateway when
// /.dockerenv makes it believe it runs in a container.
func checkPublishedPorts(env doctorEnv) finding {
	const name = "published ports"
	gw := network.DefaultGateway(network.DefaultBridgeSubnet)
	if !env.ports.inContainer() {
		return ok(name, "clients here dial localhost")
	}
	local, err := env.ports.gatewayLocal()
	switch {
	case err != nil:
		return warn(name, "%s exists, so clients (testcontainers-go) dial the bridge gateway %s; cannot tell whether it is on this host: %v", dockerEnvFile, gw, err)
	case local:
		return ok(name, "%s exists, so clients dial the bridge gateway %s, which is on this host", dockerEnvFile, gw)
	case env.ports.root():
		return ok(name, "%s exists, so clients dial the bridge gateway %s; pierd puts it on %s when it starts", dockerEnvFile, gw, hostgw.InterfaceName)
	}
	return warn(name, "%s exists, so clients (testcontainers-go) dial the bridge gateway %s, which is not on this host and only root can put there: run pierd as root, or tell the clients to use localhost (TESTCONTAINERS_HOST_OVERRIDE=localhost)", dockerEnvFile, gw)
}
