package vnet

import (
	"bufio"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// dnsServer answers on the gateway's port 53 (UDP and TCP): network names
// from the Resolver, everything else relayed to the host's resolver.
type dnsServer struct {
	udp, tcp *dns.Server
}

func startDNS(s *stack.Stack, cfg Config) (*dnsServer, error) {
	full := tcpip.FullAddress{NIC: nicID, Addr: addr(cfg.Gateway), Port: 53}
	pc, err := gonet.DialUDP(s, &full, nil, ipv4.ProtocolNumber)
	if err != nil {
		return nil, err
	}
	ln, err := gonet.ListenTCP(s, full, ipv4.ProtocolNumber)
	if err != nil {
		pc.Close()
		return nil, err
	}
	h := &dnsHandler{cfg: cfg}
	d := &dnsServer{
		udp: &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(h.serveUDP)},
		tcp: &dns.Server{Listener: ln, Handler: dns.HandlerFunc(h.serveTCP)},
	}
	go d.udp.ActivateAndServe()
	go d.tcp.ActivateAndServe()
	return d, nil
}

func (d *dnsServer) close() {
	_ = d.udp.Shutdown()
	_ = d.tcp.Shutdown()
}

type dnsHandler struct{ cfg Config }

func (h *dnsHandler) serveUDP(w dns.ResponseWriter, r *dns.Msg) { h.serve(w, r, false) }
func (h *dnsHandler) serveTCP(w dns.ResponseWriter, r *dns.Msg) { h.serve(w, r, true) }

func (h *dnsHandler) serve(w dns.ResponseWriter, r *dns.Msg, overTCP bool) {
	src := sourceAddr(w.RemoteAddr())
	if m := h.answerLocal(r, src); m != nil {
		if !overTCP {
			size := dns.MinMsgSize
			if o := r.IsEdns0(); o != nil {
				size = int(o.UDPSize())
			}
			m.Truncate(size)
		}
		_ = w.WriteMsg(m)
		return
	}
	_ = w.WriteMsg(h.relay(r, overTCP))
}

// answerLocal answers r when its question is a network name (nil when not).
func (h *dnsHandler) answerLocal(r *dns.Msg, src netip.Addr) *dns.Msg {
	if h.cfg.Resolve == nil || len(r.Question) != 1 {
		return nil
	}
	q := r.Question[0]
	if q.Qclass != dns.ClassINET {
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	addrs, ok := h.cfg.Resolve(src, name)
	if !ok {
		return nil
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.RecursionAvailable = true
	if q.Qtype != dns.TypeA && q.Qtype != dns.TypeANY {
		return m // the name exists, with no records of that type
	}
	for _, a := range addrs {
		if !a.Is4() {
			continue
		}
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 600},
			A:   net.IP(a.AsSlice()),
		})
	}
	return m
}

// relay asks the upstream resolver; SERVFAIL when there is none or it
// does not answer.
func (h *dnsHandler) relay(r *dns.Msg, overTCP bool) *dns.Msg {
	if h.cfg.Internal || h.cfg.Upstream == "" {
		return failure(r)
	}
	c := &dns.Client{Timeout: 5 * time.Second}
	if overTCP {
		c.Net = "tcp"
	}
	in, _, err := c.Exchange(r, h.cfg.Upstream)
	if err == nil && in.Truncated && !overTCP {
		c.Net = "tcp"
		if in2, _, err2 := c.Exchange(r, h.cfg.Upstream); err2 == nil {
			in = in2
		}
	}
	if err != nil || in == nil {
		return failure(r)
	}
	in.Id = r.Id
	return in
}

func failure(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	return m
}

func sourceAddr(a net.Addr) netip.Addr {
	var ip net.IP
	switch v := a.(type) {
	case *net.UDPAddr:
		ip = v.IP
	case *net.TCPAddr:
		ip = v.IP
	}
	out, _ := netip.AddrFromSlice(ip)
	return out.Unmap()
}

// hostNameserver is the first nameserver of a resolv.conf as "ip:53"
// ("" when there is none).
func hostNameserver(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if a, err := netip.ParseAddr(fields[1]); err == nil {
				return net.JoinHostPort(a.String(), "53")
			}
		}
	}
	return ""
}
