package vz

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pier-vm/pier/errdefs"
)

// Option configures a Driver.
type Option func(*options) error

// options are the Driver's knobs; New documents the defaults.
type options struct {
	shimBinary   string
	shimArgs     []string
	log          *slog.Logger
	startTimeout time.Duration
	rosettaCache string
}

func defaultOptions() options {
	return options{
		shimArgs:     []string{"vz-shim"},
		log:          slog.Default(),
		startTimeout: 60 * time.Second,
	}
}

// apply runs opts over the defaults and settles the shim binary.
func applyOptions(opts []Option) (options, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	if o.shimBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("vz: cannot find the pierd executable for the shim: %w", err)
		}
		o.shimBinary = exe
	}
	return o, nil
}

// WithShimBinary sets the executable run as `<path> vz-shim --state-dir
// DIR` for each VM (default: the running executable). It must carry the
// com.apple.security.virtualization entitlement.
func WithShimBinary(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errdefs.InvalidParameterf("vz: empty shim binary path")
		}
		o.shimBinary = path
		return nil
	}
}

// WithLogger sets the driver's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errdefs.InvalidParameterf("vz: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithStartTimeout bounds how long Start waits for a shim to report its VM
// running (default 60 s).
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return errdefs.InvalidParameterf("vz: start timeout %v is not positive", d)
		}
		o.startTimeout = d
		return nil
	}
}

// WithRosettaCache names an abstract socket in the guest on which a
// rosettad serves Rosetta's translation cache (macOS 14 and later), set
// as the Rosetta share's caching option. The default is "": no caching
// option, because nothing in pier's guest starts rosettad (pier-init
// does not), and Rosetta then translates every binary afresh.
func WithRosettaCache(name string) Option {
	return func(o *options) error {
		o.rosettaCache = name
		return nil
	}
}
