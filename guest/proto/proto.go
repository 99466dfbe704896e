// Package proto is the wire protocol between pierd and the agent inside each
// VM: the only package shared by host and guest. One connection (a
// virtio-serial port or vsock) carries, after a sync exchange that skips
// bytes of earlier connections (sync.go), a yamux session; the host is the yamux
// client and opens one stream per request. Each stream starts with a
// length-prefixed JSON Request and its JSON Response; process streams then
// carry typed frames (resize and signals towards the guest; output and the
// exit status towards the host). A process's stdin has a stream of its own
// (OpStdin), so bulk bytes never travel inside RPC messages and a process
// that does not read its stdin never holds up a signal.
package proto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Version is the protocol version; host and guest must agree exactly.
// Version 2 moved stdin to a stream of its own; version 3 lets the guest
// open streams towards the host (forwarded unix sockets); version 4 adds
// the file operations (files.go) and typed error codes; version 5 adds
// stats, the process list (observe.go) and setting the clock (clock.go);
// version 6 reattaches a new host to the running main process (reattach.go);
// version 7 adds the writable layer as an image layer (OpLayer, files.go);
// version 8 starts every connection with a sync exchange (sync.go);
// version 9 carries a qemu-user emulator on a read-only disk
// (EmulationSpec.Device) instead of a virtio-fs share.
const Version = 9

// PortName is the name of the virtio-serial port the agent serves on
// (QEMU: the port buffers what the host sends until the guest opens it,
// and tells the guest when the host end closes, so one connection after
// the other shares the port).
const PortName = "agent"

// The agent's channel on a VM without the virtio-serial port (vz): the
// kernel command line carries CmdlineAgent=AgentVsock and the agent
// listens on vsock port AgentVsockPort, where every host connection is a
// session of its own. A host connect succeeds only once the agent
// listens, so nothing the host sends can reach a port the guest has not
// opened yet (which virtio-console ports drop), and a second connection
// never shares a byte stream with a stale session.
const (
	CmdlineAgent   = "pier.agent"
	AgentVsock     = "vsock"
	AgentVsockPort = 1024
)

// Operations a stream can start with.
const (
	OpHello    = "hello"
	OpStart    = "start"
	OpExec     = "exec"
	OpShutdown = "shutdown"
	OpPing     = "ping"
	// OpStdin attaches a stream to the stdin of the process with Request.Pid:
	// the bytes the host writes go to the process, and the host's half-close
	// closes the process's stdin.
	OpStdin = "stdin"
	// File operations: see files.go.
	OpMountRoot = "mount-root"
	OpStatPath  = "stat-path"
	OpArchive   = "archive"
	OpExtract   = "extract"
	OpChanges   = "changes"
	OpExport    = "export"
	OpLayer     = "layer"
	// OpStats and OpProcesses: see observe.go; OpSetClock: clock.go.
	// OpReattach: reattach.go.
)

// Request opens a stream.
type Request struct {
	Op        string         `json:"op"`
	Version   int            `json:"version,omitempty"`
	Container *ContainerSpec `json:"container,omitempty"`
	Process   *ProcessSpec   `json:"process,omitempty"`
	Pid       int            `json:"pid,omitempty"`
	// Path is the container path of a file operation.
	Path string `json:"path,omitempty"`
	// Extract tunes OpExtract.
	Extract *ExtractOptions `json:"extract,omitempty"`
	// Freeze asks OpLayer to freeze the writable layer's file system while
	// it is read (docker commit's pause).
	Freeze bool `json:"freeze,omitempty"`
	// Clock is OpSetClock's time, in nanoseconds since the epoch.
	Clock int64 `json:"clock,omitempty"`
	// Offsets is how much of the main process's output the host has
	// (OpReattach).
	Offsets *OutputOffsets `json:"offsets,omitempty"`
}

// Response answers a Request. A non-empty Error means the request failed;
// Code then classifies it.
type Response struct {
	Error   string     `json:"error,omitempty"`
	Code    ErrorCode  `json:"code,omitempty"`
	Hello   *HelloInfo `json:"hello,omitempty"`
	Pid     int        `json:"pid,omitempty"`
	Stat    *PathStat  `json:"stat,omitempty"`
	Changes []Change   `json:"changes,omitempty"`
	// Stats and Processes answer OpStats and OpProcesses.
	Stats     *StatsSample `json:"stats,omitempty"`
	Processes *ProcessList `json:"processes,omitempty"`
	// Offsets is where a reattached output resumes (OpReattach).
	Offsets *OutputOffsets `json:"offsets,omitempty"`
}

// HelloInfo describes the guest.
type HelloInfo struct {
	Version       int    `json:"version"`
	KernelRelease string `json:"kernelRelease"`
	Arch          string `json:"arch"`
}

// ProcessSpec is a process to run, with Docker's semantics.
type ProcessSpec struct {
	// Args is the argv; Args[0] is looked up in Env's PATH.
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	// WorkingDir is created when missing (default "/").
	WorkingDir string `json:"workingDir,omitempty"`
	// User is "", "uid", "uid:gid", "name" or "name:group", looked up in the
	// container's /etc/passwd and /etc/group.
	User string `json:"user,omitempty"`
	// Groups are supplementary groups besides User's: names in the
	// container's /etc/group, or gids (docker run --group-add).
	Groups    []string `json:"groups,omitempty"`
	Tty       bool     `json:"tty,omitempty"`
	OpenStdin bool     `json:"openStdin,omitempty"`
	// Height and Width are the initial terminal size with Tty.
	Height uint16 `json:"height,omitempty"`
	Width  uint16 `json:"width,omitempty"`
}

// ContainerSpec sets up the container's root and starts its main process.
type ContainerSpec struct {
	// RootDevice is the image's read-only ext4 disk: a /dev path or
	// "serial:NAME" for the virtio disk with that serial number.
	RootDevice string `json:"rootDevice"`
	// WritableDevice is the container's own disk (same forms), formatted
	// by the guest on first use; it holds the overlay's upper layer.
	WritableDevice string      `json:"writableDevice"`
	Hostname       string      `json:"hostname,omitempty"`
	Domainname     string      `json:"domainname,omitempty"`
	Process        ProcessSpec `json:"process"`
	// Emulation, when set, registers an emulator for a foreign architecture.
	Emulation *EmulationSpec `json:"emulation,omitempty"`
	// Network configures the guest's interfaces, routes, /etc/hosts and
	// /etc/resolv.conf (nil: loopback only, as with --network none).
	Network *NetworkSpec `json:"network,omitempty"`
	// Mounts are mounted into the container's root, in order, before the
	// switch into it.
	Mounts []MountSpec `json:"mounts,omitempty"`
	// Sockets are host unix sockets made to appear in the container: the
	// agent listens at each Target and carries every connection to the
	// host over a stream it opens (a ForwardHeader first).
	Sockets []SocketSpec `json:"sockets,omitempty"`
	// Ephemeral says the writable disk is discarded when the main process
	// exits (docker run --rm): the guest reports the exit without syncing
	// it (shares are still synced).
	Ephemeral bool `json:"ephemeral,omitempty"`
	// Identity makes the guest its own machine: a VM cloned from a
	// template wakes with the template's clock and random generator.
	Identity *Identity `json:"identity,omitempty"`
}

// Identity is what a guest takes from the host at start so that no two
// VMs cloned from one template share a clock or a random stream.
type Identity struct {
	// UnixNano is the host's wall clock when the request was made.
	UnixNano int64 `json:"unixNano"`
	// Seed is fresh randomness from the host (32 bytes), mixed into the
	// guest's generator, which is then reseeded.
	Seed []byte `json:"seed"`
}

// SocketSpec is one forwarded unix socket.
type SocketSpec struct {
	Target string `json:"target"`
	// Mode is the socket file's permission bits (as the host's).
	Mode uint32 `json:"mode,omitempty"`
}

// ForwardHeader starts a stream the guest opens for a connection to the
// forwarded socket Sockets[Socket].
type ForwardHeader struct {
	Socket int `json:"socket"`
}

// Mount types of MountSpec. MountVirtiofs is any host share: the guest
// mounts it over virtio-fs or virtio-9p, whichever carries its tag.
const (
	MountVirtiofs = "virtiofs"
	MountTmpfs    = "tmpfs"
)

// MountSpec is one mount of the container: a virtio-fs share (a host
// directory, or one file of it) or a tmpfs.
type MountSpec struct {
	Type string `json:"type"`
	// Tag is the virtio-fs share's tag.
	Tag string `json:"tag,omitempty"`
	// SubPath, when set, is the one file of the share that is mounted.
	SubPath string `json:"subPath,omitempty"`
	// Target is the path inside the container.
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// CopyUp fills an empty share with what the image has at Target
	// first, as Docker does for volumes.
	CopyUp bool `json:"copyUp,omitempty"`
	// Options are tmpfs options ("size=64m,mode=1777").
	Options string `json:"options,omitempty"`
}

// NetworkSpec is the container's network configuration.
type NetworkSpec struct {
	Interfaces []InterfaceSpec `json:"interfaces,omitempty"`
	// Gateway is the default route's next hop ("" for no default route).
	Gateway string `json:"gateway,omitempty"`
	// Nameservers, Search and Options make /etc/resolv.conf.
	Nameservers []string `json:"nameservers,omitempty"`
	Search      []string `json:"search,omitempty"`
	Options     []string `json:"options,omitempty"`
	// Hosts are extra /etc/hosts lines after localhost's ("ip\tname ...").
	Hosts []string `json:"hosts,omitempty"`
}

// InterfaceSpec is one network interface, found by its MAC address.
type InterfaceSpec struct {
	MAC string `json:"mac"`
	// Address is "ip/prefix-length".
	Address string `json:"address"`
	MTU     int    `json:"mtu,omitempty"`
}

// EmulationSpec names where the guest finds a user-mode emulator (a
// read-only disk, or a virtio-fs share) and the binfmt_misc rule that
// makes the kernel use it.
type EmulationSpec struct {
	// Device, when set, is the read-only ext4 disk holding the emulator
	// at its root, named as ContainerSpec.RootDevice is ("serial:NAME");
	// ShareTag is then empty. The QEMU driver's qemu-user emulators come
	// this way: a disk, unlike a share, lets the VM be cloned from a
	// template.
	Device string `json:"device,omitempty"`
	// ShareTag, when set, is the virtio-fs tag of the share holding the
	// emulator (Rosetta's directory share on a Mac).
	ShareTag string `json:"shareTag,omitempty"`
	// Interpreter is the emulator's file name on its disk or share.
	Interpreter string `json:"interpreter"`
	// Arch is the image architecture ("amd64", "arm64").
	Arch string `json:"arch"`
	// Flags are the binfmt_misc flags (F is always added).
	Flags string `json:"flags,omitempty"`
	// Systemd is set when the main process boots systemd, whose
	// systemd-binfmt flushes every rule: the guest then also mounts the
	// disk or share at a stable path inside the container's root and
	// writes a binfmt.d drop-in naming it. Otherwise the emulator stays
	// invisible.
	Systemd bool `json:"systemd,omitempty"`
}

// binfmt_misc flags for EmulationSpec.Flags. F (fix binary) is always set:
// the kernel opens the interpreter when the rule is registered, so it keeps
// working after the init switches into the container's root, where the
// emulator is not visible. P (preserve argv[0]) is set for qemu-user, which
// reads the kernel's AT_FLAGS_PRESERVE_ARGV0 (QEMU >= 6, kernel >= 5.12), so
// multi-call binaries such as busybox see the name they were called by. C
// (credentials) is set for Rosetta, as Apple documents, so setuid binaries
// run with their credentials.
const (
	BinfmtFlagsQEMU    = "FP"
	BinfmtFlagsRosetta = "CF"
)

// ExitStatus is how a process ended. Code is 128+Signal when a signal killed it.
type ExitStatus struct {
	Code      int    `json:"code"`
	Signal    int    `json:"signal,omitempty"`
	OOMKilled bool   `json:"oomKilled,omitempty"`
	Error     string `json:"error,omitempty"`
}

// WriteMessage writes v as a 4-byte big-endian length and its JSON.
func WriteMessage(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := w.Write(append(hdr[:], b...)); err != nil {
		return err
	}
	return nil
}

// maxMessage bounds one JSON message.
const maxMessage = 4 << 20

// ReadMessage reads one message written by WriteMessage into v.
func ReadMessage(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxMessage {
		return fmt.Errorf("proto: message of %d bytes is too large", n)
	}
	b, err := readPayload(r, n)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// ErrClosed is returned for operations on a closed client.
var ErrClosed = errors.New("proto: connection to the guest agent is closed")
