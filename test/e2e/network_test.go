package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// httpGet fetches url from the host, retrying while the container's server
// comes up.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b)
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// hostHTTPServer serves body on a fresh loopback port of the host.
func hostHTTPServer(t *testing.T, body string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// One user network with a server reached by name and alias from a second
// container, which also reaches a host server through host.docker.internal;
// a second network that cannot reach the first; published ports (-p with
// an address, -P, docker port); network rm refused while in use; a port
// clash that leaves nothing half-started.
func TestNetworking(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	hostPort := hostHTTPServer(t, "from-the-host")
	fixed := freeTCPAddr(t)
	_, fixedPort, _ := net.SplitHostPort(fixed)

	d.ok(t, "network", "create", "--label", "pier.test=net", "n1")
	defer d.docker(t, "", "network", "rm", "n1")
	if _, errOut, code := d.docker(t, "", "network", "create", "n1"); code == 0 || !strings.Contains(errOut, "network with name n1 already exists") {
		t.Fatalf("duplicate network: exit %d, %s", code, errOut)
	}
	subnet := strings.TrimSpace(d.ok(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}", "n1"))
	if !strings.HasPrefix(subnet, "172.") {
		t.Fatalf("n1 IPAM: %q", subnet)
	}
	if out := d.ok(t, "network", "ls", "--filter", "label=pier.test=net", "--format", "{{.Name}}"); out != "n1\n" {
		t.Fatalf("network ls --filter label: %q", out)
	}

	d.ok(t, "run", "-d", "--name", "web", "--network", "n1", "--network-alias", "websvc",
		"-p", "127.0.0.1:"+fixedPort+":80", "--expose", "8080", "-P",
		bb, "sh", "-c", "mkdir /www && echo from-web > /www/index.html && httpd -p 8080 -h /www && exec httpd -f -p 80 -h /www")
	defer d.docker(t, "", "rm", "-f", "web")

	if got := httpGet(t, "http://"+fixed+"/"); got != "from-web\n" {
		t.Fatalf("published 127.0.0.1:%s: %q", fixedPort, got)
	}
	published := strings.TrimSpace(d.ok(t, "port", "web", "8080"))
	if !strings.HasPrefix(published, "0.0.0.0:") {
		t.Fatalf("docker port web 8080: %q", published)
	}
	p := published[strings.LastIndex(published, ":")+1:]
	if got := httpGet(t, "http://127.0.0.1:"+p+"/"); got != "from-web\n" {
		t.Fatalf("-P port %s: %q", p, got)
	}
	if ps := d.ok(t, "ps", "--filter", "name=web", "--format", "{{.Ports}}"); !strings.Contains(ps, "127.0.0.1:"+fixedPort+"->80/tcp") || !strings.Contains(ps, "->8080/tcp") {
		t.Fatalf("docker ps ports: %q", ps)
	}
	webIP := strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.NetworkSettings.Networks.n1.IPAddress}}", "web"))
	if !strings.HasPrefix(subnet, webIP[:strings.LastIndex(webIP, ".")]) {
		t.Fatalf("web's address %q is not in n1 (%s)", webIP, subnet)
	}

	// A client on two networks (n2 first, n1 connected before start): one
	// NIC each; web and its alias resolve through n1, the host answers
	// through host.docker.internal.
	d.ok(t, "network", "create", "n2")
	defer d.docker(t, "", "network", "rm", "n2")
	script := fmt.Sprintf("ls /sys/class/net | tr '\\n' ' '; echo; wget -qO- http://web/ && wget -qO- http://websvc/ && wget -qO- http://host.docker.internal:%d/ && echo && cat /etc/resolv.conf", hostPort)
	d.ok(t, "create", "--name", "client", "--network", "n2", bb, "sh", "-c", script)
	defer d.docker(t, "", "rm", "-f", "client")
	d.ok(t, "network", "connect", "--alias", "cli", "n1", "client")
	out := d.ok(t, "start", "-a", "client")
	if !strings.HasPrefix(out, "eth0 eth1 lo \nfrom-web\nfrom-web\nfrom-the-host\n") || !strings.Contains(out, "nameserver ") {
		t.Fatalf("client on n2 and n1: %q", out)
	}
	d.ok(t, "rm", "client")

	// Networks are isolated: from n2 alone, web's address does not answer
	// and its name does not resolve. --network none has loopback only.
	iso := fmt.Sprintf("timeout 5 wget -qO- http://%s/ && echo reached-ip; nslookup web >/dev/null 2>&1 && echo resolved-name; echo done", webIP)
	if out := d.ok(t, "run", "--rm", "--network", "n2", bb, "sh", "-c", iso); out != "done\n" {
		t.Fatalf("n2 reached n1: %q", out)
	}
	if out := d.ok(t, "run", "--rm", "--network", "none", bb, "sh", "-c", "ls /sys/class/net; cat /etc/resolv.conf"); out != "lo\n" {
		t.Fatalf("--network none: %q", out)
	}

	// rm refused while used.
	if _, errOut, code := d.docker(t, "", "network", "rm", "n1"); code == 0 || !strings.Contains(errOut, "has active endpoints") {
		t.Fatalf("network rm of a used network: exit %d, %s", code, errOut)
	}

	// A port clash fails the start, with Docker's words, and leaves no VM.
	before := len(vmProcesses(d.dataDir))
	_, errOut, code := d.docker(t, "", "run", "-d", "--name", "clash", "-p", "127.0.0.1:"+fixedPort+":80", bb, "true")
	defer d.docker(t, "", "rm", "-f", "clash")
	if code == 0 || !strings.Contains(errOut, "port is already allocated") {
		t.Fatalf("port clash: exit %d, %s", code, errOut)
	}
	if st := strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.State.Running}} {{json .NetworkSettings.Ports}}", "clash")); !strings.HasPrefix(st, "false") {
		t.Fatalf("clash state: %q", st)
	}
	if after := len(vmProcesses(d.dataDir)); after != before {
		t.Fatalf("VM processes %d -> %d after a failed start", before, after)
	}
	if got := httpGet(t, "http://"+fixed+"/"); got != "from-web\n" {
		t.Fatalf("the first owner lost its port: %q", got)
	}

	// Released on stop; rm works once nothing runs on n1.
	d.ok(t, "rm", "-f", "web", "clash")
	if c, err := net.DialTimeout("tcp", fixed, 2*time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after the container went", fixed)
	}
	d.ok(t, "network", "rm", "n1")
	if _, errOut, code := d.docker(t, "", "network", "inspect", "n1"); code == 0 || !strings.Contains(strings.ToLower(errOut), "not found") {
		t.Fatalf("inspect of a removed network: exit %d, %s", code, errOut)
	}
}

// docker run --link on the default bridge: the linked container answers
// by its alias (through /etc/hosts: the default bridge has no DNS), and
// its port and environment come as dockerd's link variables.
func TestLegacyLink(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	d.ok(t, "run", "-d", "--name", "link-db", "-e", "PG=1", "--expose", "8080", bb,
		"sh", "-c", "mkdir -p /www && echo linked > /www/index.html && exec httpd -f -p 8080 -h /www")
	defer d.docker(t, "", "rm", "-f", "link-db")
	ip := strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "link-db"))
	var out string
	for i := 0; i < 50; i++ { // until httpd listens
		var code int
		out, _, code = d.docker(t, "", "run", "--rm", "--name", "link-client", "--link", "link-db:db", bb,
			"sh", "-c", "wget -qO- http://db:8080/ && echo $DB_PORT_8080_TCP_ADDR $DB_ENV_PG $DB_NAME")
		if code == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if want := "linked\n" + ip + " 1 /link-client/db\n"; out != want {
		t.Fatalf("through the link: %q, want %q", out, want)
	}
	d.ok(t, "create", "--name", "link-user", "--link", "link-db:db", bb, "true")
	defer d.docker(t, "", "rm", "-f", "link-user")
	if out := d.ok(t, "inspect", "-f", "{{json .HostConfig.Links}}", "link-user"); out != "[\"/link-db:/link-user/db\"]\n" {
		t.Fatalf("HostConfig.Links: %q", out)
	}
	if _, errOut, code := d.docker(t, "", "run", "--rm", "--link", "link-nosuch", bb, "true"); code == 0 || !strings.Contains(errOut, "could not get container for link-nosuch") {
		t.Fatalf("--link to a missing container: %d %s", code, errOut)
	}
}
