package emulation

import "testing"

func TestSystemdMode(t *testing.T) {
	cases := []struct {
		args []string
		want bool
	}{
		{[]string{"/sbin/init"}, true},
		{[]string{"/usr/sbin/init"}, true},
		{[]string{"/sbin//init"}, true},
		{[]string{"/lib/systemd/systemd"}, true},
		{[]string{"/usr/lib/systemd/systemd", "--log-level=debug"}, true},
		{[]string{"/usr/local/bin/systemd"}, true},
		{[]string{"systemd"}, true}, // looked up in PATH
		{[]string{"/sbin/init", "--unit=multi-user.target"}, true},
		{nil, false},
		{[]string{}, false},
		{[]string{""}, false},
		{[]string{"init"}, false}, // not /sbin/init: busybox init, tini, ...
		{[]string{"/bin/init"}, false},
		{[]string{"/sbin/init.sh"}, false},
		{[]string{"/usr/lib/systemd/systemd-journald"}, false},
		{[]string{"/lib/systemd/systemd-udevd"}, false},
		{[]string{"/usr/bin/systemctl"}, false},
		{[]string{"sh", "-c", "exec /sbin/init"}, false},
		{[]string{"/bin/sh", "/sbin/init"}, false},
		{[]string{"/systemd/bin/sh"}, false},
	}
	for _, tc := range cases {
		if got := SystemdMode(tc.args); got != tc.want {
			t.Errorf("SystemdMode(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
