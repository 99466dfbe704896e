package engine

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
)

// Runtime boots a container's sandbox (its microVM) and starts the
// container's main process in it. It is the seam between the container
// engine and the VM world: the real implementation is a thin adapter over
// vm.Driver and the guest agent's client; tests use engine/fakeruntime.
type Runtime interface {
	// Start boots the sandbox described by req and starts its main process.
	// It returns once the process runs (or failed to start: the error then
	// says why, and nothing is left running). ctx bounds the boot only: the
	// sandbox outlives it. Errors classified with errdefs keep their class
	// (for example invalid parameter for an image that cannot be emulated).
	Start(ctx context.Context, req RunRequest) (Sandbox, error)
	// OpenFiles gives file access to a container that is not running: a
	// short-lived VM with the container's disks and mounts that runs no
	// process of the container (of req, Process, Stdio and Network are
	// not used). The caller makes sure that no other VM uses the
	// container's writable disk until the session is closed.
	OpenFiles(ctx context.Context, req RunRequest) (FilesSession, error)
}

// PlatformChecker is implemented by runtimes that can tell at create time
// whether an image's platform can run here (natively or emulated); the
// error says why not and what to install.
type PlatformChecker interface {
	CheckPlatform(p platform.Platform) error
}

// ProcessSpec is a process to run in a container.
type ProcessSpec struct {
	// Args is the resolved argv (entrypoint + cmd); Args[0] is looked up in
	// the container's PATH.
	Args       []string
	Env        []string
	WorkingDir string
	// User is "", "name", "uid", "name:group" or "uid:gid".
	User string
	// Groups are supplementary groups besides User's (HostConfig.GroupAdd:
	// names in the container's /etc/group, or gids).
	Groups []string
	Tty    bool
	// ConsoleSize is the initial terminal [height, width] when Tty.
	ConsoleSize [2]uint
}

// Stdio connects a process to the engine. A nil Stdin means the process
// gets no input (its stdin is /dev/null); when Stdin returns io.EOF the
// process's stdin is closed. With a TTY all output goes to Stdout.
type Stdio struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// RunRequest is everything needed to run one container.
type RunRequest struct {
	// ContainerID names the sandbox (64 hex).
	ContainerID string
	// Image is the resolved image; RootDisk its read-only ext4 root disk.
	Image    *image.Image
	RootDisk string
	// WritableDisk is the container's own upper layer. The runtime creates
	// it when missing; it survives stop/start and is deleted with the
	// container.
	WritableDisk string
	Process      ProcessSpec
	Stdio        Stdio
	Hostname     string
	Domainname   string
	// MemoryMiB and CPUs size the VM.
	MemoryMiB int
	CPUs      int
	// StateDir is a directory the runtime owns for this sandbox (sockets,
	// pid files); it is emptied between runs.
	StateDir string
	// ConsoleLog is where the VM's serial console goes (for debugging).
	ConsoleLog string
	// Network configures the container's interfaces and name files (nil:
	// loopback only).
	Network *NetworkConfig
	// Mounts are the container's bind mounts, volumes and tmpfs mounts.
	Mounts []container.MountPoint
	// Ephemeral says the writable disk goes with the container when its
	// main process exits (docker run --rm): the guest need not flush it.
	Ephemeral bool
	// Emulate, for a sandbox without an Image (the image builder), asks
	// for the emulator of this platform's architecture in the VM (binfmt_misc),
	// as a container of an image of that platform has it, while the main
	// process itself is native.
	Emulate *platform.Platform
}

// NetworkConfig is a container's network as its guest sets it up.
type NetworkConfig struct {
	Interfaces []NetworkInterface
	// Gateway is the default route's next hop (invalid: no default route).
	Gateway netip.Addr
	// Nameservers, Search and Options make /etc/resolv.conf.
	Nameservers []string
	Search      []string
	Options     []string
	// Hosts are /etc/hosts lines after localhost's ("ip\tname").
	Hosts []string
}

// NetworkInterface is one interface of the container, plugged into a
// virtual switch.
type NetworkInterface struct {
	MAC     string
	Address netip.Prefix
	MTU     int
	// Attach returns the VM's end of the connection to the switch (see
	// vm.NIC).
	Attach func(datagram bool) (*os.File, error)
}

// ExitStatus is how a process ended.
type ExitStatus struct {
	// Code is the exit code; 128+n for death by signal n.
	Code      int
	OOMKilled bool
	ExitedAt  time.Time
}

// Process is a running process in a sandbox.
type Process interface {
	// Pid is the process id inside the guest (0 when unknown).
	Pid() int
	// Wait blocks until the process exited and all of its output was
	// written to its Stdio writers. An error means the status is lost (ctx
	// ended, the VM died, the agent connection broke).
	Wait(ctx context.Context) (ExitStatus, error)
	// Signal sends sig to the process.
	Signal(ctx context.Context, sig syscall.Signal) error
	// Resize sets the terminal size of a TTY process.
	Resize(ctx context.Context, height, width uint) error
	// CloseStdin closes the process's stdin.
	CloseStdin() error
}

// ExecRequest is a process to start next to a running container's main
// process.
type ExecRequest struct {
	ID      string
	Process ProcessSpec
	Stdio   Stdio
}

// Sandbox is a booted container: its VM and its main process.
type Sandbox interface {
	// Process is the container's main process. Wait returns once it exited;
	// the VM may still be shutting down.
	Process
	// Exec starts another process in the container.
	Exec(ctx context.Context, req ExecRequest) (Process, error)
	// Files is access to the running container's file system.
	Files() Files
	// Observer reads the container's counters and processes.
	Observer
	// Pauser stops and resumes the VM.
	Pauser
	// HostPid is the host process id of the VM (QEMU or the vz shim).
	HostPid() int
	// Kill ends the VM at once and releases its host resources. Safe to call
	// more than once and after the VM exited.
	Kill() error
	// Done is closed when the VM is gone.
	Done() <-chan struct{}
}

// CommandError is a process that did not start because of its command:
// Docker records ExitCode for the container (127: not found, 126: cannot
// be run). The runtime classifies it as invalid input (400), as dockerd
// does.
type CommandError struct {
	ExitCode int
	Err      error
}

func (e *CommandError) Error() string { return e.Err.Error() }
func (e *CommandError) Unwrap() error { return e.Err }

// SandboxAdopter is a runtime whose sandboxes outlive the daemon (live
// restore): a restarted daemon takes over every container that was
// running, and its VM's main process goes on as if nothing happened.
type SandboxAdopter interface {
	// Adopt rejoins the sandbox a previous daemon left running in
	// req.StateDir. When none runs there any more it returns a
	// *SandboxGoneError.
	Adopt(ctx context.Context, req AdoptRequest) (Sandbox, error)
}

// AdoptRequest is a running container a restarted daemon takes over.
type AdoptRequest struct {
	ContainerID string
	StateDir    string
	ConsoleLog  string
	// Stdio receives the main process's output from Have on (and feeds its
	// stdin when set).
	Stdio Stdio
	// Have is how much of each output stream the container's log holds.
	Have OutputOffsets
	// Mounts are the container's mounts (forwarded sockets are served
	// again).
	Mounts []container.MountPoint
	// Paused says the VM was left paused: it runs for the reattach, then
	// is paused again.
	Paused bool
}

// OutputOffsets are byte counts of a main process's output streams.
type OutputOffsets struct {
	Stdout, Stderr int64
}

// SandboxGoneError says that the sandbox a daemon meant to adopt no longer
// runs. Status is how its main process ended when that is known (the
// guest records it), else nil; Reason says what is known.
type SandboxGoneError struct {
	Status *ExitStatus
	Reason string
}

func (e *SandboxGoneError) Error() string { return e.Reason }

// Detacher is a sandbox the daemon can leave running when it stops (live
// restore): the connection to it closes, the VM and its main process go
// on, and Wait returns ErrDetached.
type Detacher interface {
	Detach()
}

// ErrDetached is Wait's error after Detach.
var ErrDetached = errors.New("detached from the sandbox")
