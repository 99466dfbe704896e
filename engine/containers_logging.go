package engine

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/docker/go-units"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/containerlog"
	"github.com/pier-vm/pier/errdefs"
)

// A container's log driver (HostConfig.LogConfig): pier keeps every log on
// the host as json-file does (engine/containerlog). json-file and local
// are honoured with their max-size, max-file and compress (local's
// defaults: 20 MiB, 5 files, compressed); none keeps nothing, and `docker logs` says so; the other
// drivers dockerd knows are kept as json-file, with a warning at create;
// a name dockerd does not know is refused, as dockerd refuses it.

// otherLogDrivers are dockerd's drivers pier does not have.
var otherLogDrivers = []string{"syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries"}

// logOptions are the options each honoured driver accepts (dockerd's),
// besides the ones every driver takes (mode, max-buffer-size).
var logOptions = map[string][]string{
	"json-file": {"max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag"},
	"local":     {"max-file", "max-size", "compress"},
}

// logSettings checks hc's log driver and options and returns how its log
// is bounded and the warnings the create answers with.
func logSettings(hc container.HostConfig) (containerlog.Rotation, []string, error) {
	driver, opts := hc.LogType, hc.LogConfig
	switch driver {
	case "", "json-file", "local":
	case "none":
		return containerlog.Discard, nil, nil
	default:
		if !slices.Contains(otherLogDrivers, driver) {
			return containerlog.Rotation{}, nil, errdefs.InvalidParameterf("logger: no log driver named '%s' is registered", driver)
		}
		return containerlog.Rotation{}, []string{fmt.Sprintf("pier keeps container logs on the host as json-file does: the %s log driver is not available, and `docker logs` reads them", driver)}, nil
	}
	if driver == "" {
		driver = "json-file"
	}
	switch mode := opts["mode"]; mode {
	case "", "blocking", "non-blocking":
	default:
		return containerlog.Rotation{}, nil, errdefs.InvalidParameterf("logger: logging mode not supported: %s", mode)
	}
	for k := range opts {
		if k != "mode" && k != "max-buffer-size" && !slices.Contains(logOptions[driver], k) {
			if driver == "local" {
				return containerlog.Rotation{}, nil, errdefs.InvalidParameterf("unknown log opt '%s' for log driver local", k)
			}
			return containerlog.Rotation{}, nil, errdefs.InvalidParameterf("unknown log opt '%s' for json-file log driver", k)
		}
	}
	r := containerlog.Rotation{MaxFiles: 1}
	if driver == "local" {
		r = containerlog.Rotation{MaxSize: 20 << 20, MaxFiles: 5, Compress: true}
	}
	if v, ok := opts["max-size"]; ok {
		parse := units.FromHumanSize // json-file: decimal units, as dockerd
		if driver == "local" {
			parse = units.RAMInBytes
		}
		n, err := parse(v)
		if err != nil {
			return containerlog.Rotation{}, nil, errdefs.InvalidParameter(err)
		}
		if n <= 0 {
			return containerlog.Rotation{}, nil, errdefs.InvalidParameterf("max-size must be a positive number")
		}
		r.MaxSize = n
	}
	if v, ok := opts["max-file"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return containerlog.Rotation{}, nil, errdefs.InvalidParameter(err)
		}
		if n < 1 {
			return containerlog.Rotation{}, nil, errdefs.InvalidParameterf("max-file cannot be less than 1")
		}
		r.MaxFiles = n
	}
	if v, ok := opts["compress"]; ok {
		compress, err := strconv.ParseBool(v)
		if err != nil {
			return containerlog.Rotation{}, nil, errdefs.InvalidParameter(err)
		}
		if compress && driver == "json-file" && (r.MaxFiles == 1 || r.MaxSize == 0) {
			return containerlog.Rotation{}, nil, errdefs.InvalidParameterf("compress cannot be true when max-file is less than 2 or max-size is not set")
		}
		r.Compress = compress
	}
	return r, nil, nil
}
