package ps

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 2, 9, 0, 0, 0, time.Local)

func sample() List {
	return List{MemTotal: 100 << 20, Processes: []Process{
		{Pid: 7, PPid: 1, Pgrp: 7, Session: 7, TPGid: -1, UID: 0, User: "root", State: "S", Threads: 1,
			Start: now.Add(-time.Hour), Elapsed: time.Hour, CPU: 90 * time.Second, VSZ: 4 << 20, RSS: 2 << 20,
			Comm: "sh", Args: []string{"sh", "-c", "while true; do sleep 1; done"}},
		{Pid: 30, PPid: 7, Pgrp: 7, Session: 7, UID: 1000, State: "S", Threads: 3, TTY: "pts/0", TPGid: 7,
			Start: now.Add(-48 * time.Hour), Elapsed: 48 * time.Hour, CPU: 0, VSZ: 1 << 20, RSS: 1 << 20, Comm: "sleep"},
	}}
}

func TestFormatDefaultFull(t *testing.T) {
	titles, rows, err := Format(DefaultArgs, sample(), now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}; !reflect.DeepEqual(titles, want) {
		t.Fatalf("titles %q", titles)
	}
	want := [][]string{
		{"root", "7", "1", "2", "08:00", "?", "00:01:30", "sh -c while true; do sleep 1; done"},
		{"1000", "30", "7", "0", now.Add(-48 * time.Hour).Format("Jan02"), "pts/0", "00:00:00", "[sleep]"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %q", rows)
	}
}

func TestFormatAux(t *testing.T) {
	for _, args := range []string{"aux", "-aux", "a u x"} {
		titles, rows, err := Format(args, sample(), now)
		if err != nil {
			t.Fatal(args, err)
		}
		if got := strings.Join(titles, " "); got != "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND" {
			t.Fatalf("%s: titles %q", args, got)
		}
		if want := []string{"root", "7", "2.5", "2.0", "4096", "2048", "?", "Ss", "08:00", "1:30", "sh -c while true; do sleep 1; done"}; !reflect.DeepEqual(rows[0], want) {
			t.Fatalf("%s: row %q", args, rows[0])
		}
		if rows[1][7] != "Sl+" {
			t.Fatalf("%s: stat %q", args, rows[1][7])
		}
	}
}

func TestFormatOutputList(t *testing.T) {
	for _, args := range []string{"-o pid,comm,user=WHO", "-opid,comm,user=WHO", "-e -o pid,comm -o user=WHO"} {
		titles, rows, err := Format(args, sample(), now)
		if err != nil {
			t.Fatal(args, err)
		}
		if !reflect.DeepEqual(titles, []string{"PID", "COMMAND", "WHO"}) || !reflect.DeepEqual(rows[1], []string{"30", "sleep", "1000"}) {
			t.Fatalf("%s: %q %q", args, titles, rows)
		}
	}
	titles, _, err := Format("", sample(), now)
	if err != nil || strings.Join(titles, " ") != "PID TTY TIME CMD" {
		t.Fatalf("no args: %q %v", titles, err)
	}
}

func TestFormatErrors(t *testing.T) {
	for args, want := range map[string]string{
		"-Z":         `ps: error: unsupported option "-Z"`,
		"--forest":   `ps: error: unsupported option "--forest"`,
		"-o nope":    `ps: error: unknown user-defined format specifier "nope"`,
		"-o comm":    "Couldn't find PID field in ps output",
		"-o":         "ps: error: format specification must follow o",
		"j":          `ps: error: unsupported option "j"`,
		"-ef -u bob": `ps: error: unsupported option "-u"`,
	} {
		_, _, err := Format(args, sample(), now)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", args, err, want)
		}
	}
}

func TestTimes(t *testing.T) {
	if got := cumulativeTime(26*time.Hour + 61*time.Second); got != "1-02:01:01" {
		t.Error(got)
	}
	if got := elapsedTime(65 * time.Second); got != "01:05" {
		t.Error(got)
	}
	if got := bsdTime(125 * time.Minute); got != "125:00" {
		t.Error(got)
	}
}
