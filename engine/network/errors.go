package network

import (
	"fmt"
	"strings"

	"github.com/docker/docker/pkg/stringid"

	"github.com/pier-vm/pier/errdefs"
)

// Network errors worded as dockerd words them.

func errNoSuchNetwork(ref string) error {
	return errdefs.NotFoundf("network %s not found", ref)
}

func errNetworkAmbiguous(ref string) error {
	return errdefs.InvalidParameterf("network %s is ambiguous", ref)
}

func errNetworkExists(name string) error {
	return errdefs.Conflictf("network with name %s already exists", name)
}

func errNetworkInUse(n Network) error {
	return errdefs.Forbidden(fmt.Errorf("error while removing network: network %s has active endpoints", n.Name))
}

// ErrInUseBy is the refusal to remove network n while the containers
// described by endpoints (`name:"web" id:"0123456789ab"`) are on it.
func ErrInUseBy(n Network, endpoints []string) error {
	return errdefs.Forbidden(fmt.Errorf("error while removing network: network %s has active endpoints (%s)", n.Name, strings.Join(endpoints, ", ")))
}

// ErrPredefined is the refusal to remove bridge, host or none.
func ErrPredefined(name string) error {
	return errdefs.Forbidden(fmt.Errorf("%s is a pre-defined network and cannot be removed", name))
}

func newEndpointID() string { return stringid.GenerateRandomID() }
