// Package ps formats a container's processes as procps's ps does for the
// arguments docker top passes (ps_args, "-ef" by default), so that the
// guest needs no ps: the guest describes its processes (guest/proto's
// process list, read from /proc) and Format lays them out in ps's columns.
//
// Supported: the selections -e -A -a -d and BSD a x (every process of the
// container is listed anyway, as under dockerd, which filters ps's output
// by the container's PIDs) and w (wide output); the formats -f (UID PID
// PPID C STIME TTY TIME CMD), the default (PID TTY TIME CMD), BSD u (aux:
// USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND), BSD without u
// (PID TTY STAT TIME COMMAND) and -o/o with the keywords of the table
// below (key=Header renames a column). Anything else is refused with a
// "ps: error: ..." as ps itself would refuse it.
package ps

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Process is one process of a container.
type Process struct {
	Pid, PPid, Pgrp, Session, TPGid int
	UID                             int
	// User is UID's name ("" when the container's /etc/passwd has none).
	User string
	// State is the state letter (R, S, D, Z, T, ...).
	State   string
	Nice    int
	TTY     string // "" when none
	Threads int
	Start   time.Time
	// Elapsed is how long the process has existed; CPU the CPU time it
	// used.
	Elapsed time.Duration
	CPU     time.Duration
	// VSZ and RSS are in bytes.
	VSZ, RSS uint64
	Comm     string
	Args     []string
}

// List is a container's processes and its memory size (for %MEM).
type List struct {
	MemTotal  uint64
	Processes []Process
}

// DefaultArgs are docker top's ps arguments when the client sends none.
const DefaultArgs = "-ef"

// column is one output column of ps.
type column struct {
	header string
	value  func(p Process, l List, now time.Time) string
}

// keywords are the -o keywords ps knows and pier supports, with procps's
// headers.
var keywords = map[string]column{
	"pid":        {"PID", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(p.Pid) }},
	"ppid":       {"PPID", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(p.PPid) }},
	"pgid":       {"PGID", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(p.Pgrp) }},
	"pgrp":       {"PGRP", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(p.Pgrp) }},
	"sid":        {"SID", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(p.Session) }},
	"sess":       {"SESS", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(p.Session) }},
	"uid":        {"UID", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(p.UID) }},
	"euid":       {"EUID", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(p.UID) }},
	"user":       {"USER", userName},
	"euser":      {"EUSER", userName},
	"uname":      {"USER", userName},
	"comm":       {"COMMAND", func(p Process, _ List, _ time.Time) string { return p.Comm }},
	"ucmd":       {"CMD", func(p Process, _ List, _ time.Time) string { return p.Comm }},
	"ucomm":      {"COMMAND", func(p Process, _ List, _ time.Time) string { return p.Comm }},
	"args":       {"COMMAND", commandLine},
	"command":    {"COMMAND", commandLine},
	"cmd":        {"CMD", commandLine},
	"time":       {"TIME", func(p Process, _ List, _ time.Time) string { return cumulativeTime(p.CPU) }},
	"cputime":    {"TIME", func(p Process, _ List, _ time.Time) string { return cumulativeTime(p.CPU) }},
	"bsdtime":    {"TIME", func(p Process, _ List, _ time.Time) string { return bsdTime(p.CPU) }},
	"etime":      {"ELAPSED", func(p Process, _ List, _ time.Time) string { return elapsedTime(p.Elapsed) }},
	"etimes":     {"ELAPSED", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(int(p.Elapsed / time.Second)) }},
	"tty":        {"TT", terminal},
	"tt":         {"TT", terminal},
	"tname":      {"TTY", terminal},
	"stat":       {"STAT", bsdState},
	"s":          {"S", func(p Process, _ List, _ time.Time) string { return p.State }},
	"state":      {"S", func(p Process, _ List, _ time.Time) string { return p.State }},
	"rss":        {"RSS", func(p Process, _ List, _ time.Time) string { return strconv.FormatUint(p.RSS/1024, 10) }},
	"rssize":     {"RSS", func(p Process, _ List, _ time.Time) string { return strconv.FormatUint(p.RSS/1024, 10) }},
	"vsz":        {"VSZ", func(p Process, _ List, _ time.Time) string { return strconv.FormatUint(p.VSZ/1024, 10) }},
	"vsize":      {"VSZ", func(p Process, _ List, _ time.Time) string { return strconv.FormatUint(p.VSZ/1024, 10) }},
	"%cpu":       {"%CPU", func(p Process, _ List, _ time.Time) string { return tenths(cpuPermille(p)) }},
	"pcpu":       {"%CPU", func(p Process, _ List, _ time.Time) string { return tenths(cpuPermille(p)) }},
	"%mem":       {"%MEM", memPercent},
	"pmem":       {"%MEM", memPercent},
	"c":          {"C", func(p Process, _ List, _ time.Time) string { return strconv.FormatUint(min(cpuPermille(p)/10, 99), 10) }},
	"stime":      {"STIME", startTime},
	"start_time": {"START", startTime},
	"nlwp":       {"NLWP", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(max(p.Threads, 1)) }},
	"thcount":    {"THCNT", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(max(p.Threads, 1)) }},
	"ni":         {"NI", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(p.Nice) }},
	"nice":       {"NI", func(p Process, _ List, _ time.Time) string { return strconv.Itoa(p.Nice) }},
}

// The formats ps picks without -o.
const (
	formatDefault = "pid,tname,time,ucmd"
	formatFull    = "user=UID,pid,ppid,c,stime,tname,time,cmd"
	formatBSD     = "pid,tname,stat,bsdtime,args"
	formatBSDUser = "user,pid,%cpu,%mem,vsz,rss,tname,stat,start_time,bsdtime,args"
)

// errNoPID is dockerd's error when ps's output has no PID column.
var errNoPID = errors.New("Couldn't find PID field in ps output")

// Format lays out list as `ps <args>` would, at time now. args are split
// on spaces, as dockerd splits them.
func Format(args string, list List, now time.Time) (titles []string, rows [][]string, err error) {
	spec, err := parseArgs(args)
	if err != nil {
		return nil, nil, err
	}
	cols, err := parseFormat(spec)
	if err != nil {
		return nil, nil, err
	}
	hasPID := false
	for _, c := range cols {
		titles = append(titles, c.header)
		hasPID = hasPID || c.header == "PID"
	}
	if !hasPID {
		return nil, nil, errNoPID
	}
	rows = [][]string{}
	for _, p := range list.Processes {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = c.value(p, list, now)
		}
		rows = append(rows, row)
	}
	return titles, rows, nil
}

// unsupported is ps's refusal of an option.
func unsupported(opt string) error {
	return fmt.Errorf("ps: error: unsupported option %q (pier's ps knows -e -A -a -d -f -o and BSD a x u w o)", opt)
}

// parseArgs reads the options and returns the -o format list (one of the
// built-in formats when there is none).
func parseArgs(args string) (string, error) {
	var format []string
	full, bsd, bsdUser := false, false, false
	tokens := strings.Split(args, " ")
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		switch {
		case tok == "":
			continue
		case tok == "-aux":
			// procps reads "-aux" as BSD "aux" (with a warning).
			bsd, bsdUser = true, true
			continue
		case strings.HasPrefix(tok, "--"):
			return "", unsupported(tok)
		}
		dash := strings.HasPrefix(tok, "-")
		letters := strings.TrimPrefix(tok, "-")
		if letters == "" {
			return "", unsupported(tok)
		}
		if !dash {
			bsd = true
		}
		for j := 0; j < len(letters); j++ {
			switch l := letters[j]; {
			case l == 'o':
				list := letters[j+1:]
				if list == "" {
					if i+1 >= len(tokens) {
						return "", errors.New("ps: error: format specification must follow o")
					}
					i++
					list = tokens[i]
				}
				format = append(format, list)
				j = len(letters)
			case dash && (l == 'e' || l == 'A' || l == 'a' || l == 'd' || l == 'w'):
			case dash && l == 'f':
				full = true
			case !dash && (l == 'a' || l == 'x' || l == 'e' || l == 'w' || l == 'g'):
			case !dash && l == 'u':
				bsdUser = true
			default:
				return "", unsupported(string(prefix(dash)) + string(l))
			}
		}
	}
	switch {
	case len(format) > 0:
		return strings.Join(format, ","), nil
	case bsdUser:
		return formatBSDUser, nil
	case full:
		return formatFull, nil
	case bsd:
		return formatBSD, nil
	}
	return formatDefault, nil
}

func prefix(dash bool) string {
	if dash {
		return "-"
	}
	return ""
}

// parseFormat turns a format list ("pid,comm,user=WHO") into columns.
func parseFormat(list string) ([]column, error) {
	var cols []column
	for _, item := range strings.Split(list, ",") {
		if item == "" {
			continue
		}
		key, header, renamed := strings.Cut(item, "=")
		c, ok := keywords[strings.ToLower(key)]
		if !ok {
			return nil, fmt.Errorf("ps: error: unknown user-defined format specifier %q", key)
		}
		if renamed {
			c.header = header
		}
		cols = append(cols, c)
	}
	if len(cols) == 0 {
		return nil, errors.New("ps: error: empty format list")
	}
	return cols, nil
}

func userName(p Process, _ List, _ time.Time) string {
	if p.User != "" {
		return p.User
	}
	return strconv.Itoa(p.UID)
}

func commandLine(p Process, _ List, _ time.Time) string {
	if len(p.Args) == 0 {
		return "[" + p.Comm + "]"
	}
	return strings.Join(p.Args, " ")
}

func terminal(p Process, _ List, _ time.Time) string {
	if p.TTY == "" {
		return "?"
	}
	return p.TTY
}

// bsdState is the state letter with BSD's flags: < high priority, N low
// priority, s session leader, l multi-threaded, + foreground.
func bsdState(p Process, _ List, _ time.Time) string {
	s := p.State
	switch {
	case p.Nice < 0:
		s += "<"
	case p.Nice > 0:
		s += "N"
	}
	if p.Session == p.Pid {
		s += "s"
	}
	if p.Threads > 1 {
		s += "l"
	}
	if p.TTY != "" && p.TPGid == p.Pgrp {
		s += "+"
	}
	return s
}

// cpuPermille is the CPU time over the elapsed time, in tenths of a
// percent, as ps computes %CPU.
func cpuPermille(p Process) uint64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return min(uint64(p.CPU*1000/p.Elapsed), 9999)
}

func memPercent(p Process, l List, _ time.Time) string {
	if l.MemTotal == 0 {
		return "0.0"
	}
	return tenths(p.RSS * 1000 / l.MemTotal)
}

func tenths(n uint64) string { return fmt.Sprintf("%d.%d", n/10, n%10) }

// cumulativeTime is ps's TIME: [DD-]HH:MM:SS.
func cumulativeTime(d time.Duration) string {
	s := int(d / time.Second)
	days, s := s/86400, s%86400
	out := fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
	if days > 0 {
		out = fmt.Sprintf("%d-%s", days, out)
	}
	return out
}

// bsdTime is BSD's TIME: M:SS.
func bsdTime(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// elapsedTime is ps's ELAPSED: [[DD-]hh:]mm:ss.
func elapsedTime(d time.Duration) string {
	s := int(d / time.Second)
	days, s := s/86400, s%86400
	switch {
	case days > 0:
		return fmt.Sprintf("%d-%02d:%02d:%02d", days, s/3600, s/60%60, s%60)
	case s >= 3600:
		return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// startTime is ps's STIME/START: the time of day for a process started
// within the last day, else the month and day, else the year.
func startTime(p Process, _ List, now time.Time) string {
	if p.Start.IsZero() {
		return "?"
	}
	start := p.Start.Local()
	switch {
	case now.Sub(start) < 24*time.Hour:
		return start.Format("15:04")
	case start.Year() == now.Year():
		return start.Format("Jan02")
	}
	return start.Format("2006")
}
