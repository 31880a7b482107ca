// Command clusterdns is the cluster DNS of the local cluster (hack/cluster), standing in for
// CoreDNS, whose image cannot be pulled here. It watches Services and answers
// <service>.<namespace>.svc.<domain> with the Service's cluster IP (A; an empty answer for
// AAAA), NXDOMAIN for other names in the cluster domain, and forwards everything else to the
// host's resolver. Headless Services are not resolved (nothing in the demo uses them).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the kubeconfig to watch Services with")
	listen := flag.String("listen", "127.0.0.1:53", "the UDP and TCP address to answer on")
	domain := flag.String("domain", "cluster.local", "the cluster domain")
	resolvConf := flag.String("upstream-resolv-conf", "/etc/resolv.conf", "where names outside the cluster domain are forwarded")
	flag.Parse()
	if err := run(*kubeconfig, *listen, *domain, *resolvConf); err != nil {
		fmt.Fprintln(os.Stderr, "clusterdns:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, listen, domain, resolvConf string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	services := factory.Core().V1().Services()
	lister := services.Lister()
	services.Informer() // registered before Start
	stop := make(chan struct{})
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, services.Informer().HasSynced) {
		return fmt.Errorf("services did not sync")
	}
	var upstream []string
	if rc, err := dns.ClientConfigFromFile(resolvConf); err == nil {
		for _, s := range rc.Servers {
			upstream = append(upstream, net.JoinHostPort(s, rc.Port))
		}
	}
	h := &handler{services: lister, zone: dns.Fqdn("svc." + domain), domain: dns.Fqdn(domain), upstream: upstream}
	errs := make(chan error, 2)
	for _, proto := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: listen, Net: proto, Handler: h}
		go func() { errs <- srv.ListenAndServe() }()
	}
	fmt.Printf("clusterdns: answering for %s on %s, forwarding to %v\n", domain, listen, upstream)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errs:
		return err
	case <-sig:
		close(stop)
		return nil
	}
}

type handler struct {
	services     listers.ServiceLister
	zone, domain string
	upstream     []string
}

func (h *handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		refuse(w, req, dns.RcodeFormatError)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if !dns.IsSubDomain(h.domain, name) {
		h.forward(w, req)
		return
	}
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	svc := h.lookup(name)
	if svc == nil {
		resp.Rcode = dns.RcodeNameError
		_ = w.WriteMsg(resp)
		return
	}
	if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
		for _, ip := range svc.Spec.ClusterIPs {
			if a := net.ParseIP(ip).To4(); a != nil {
				resp.Answer = append(resp.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: a})
			}
		}
	}
	_ = w.WriteMsg(resp)
}

// lookup finds the Service a name <service>.<namespace>.svc.<domain> stands for.
func (h *handler) lookup(name string) *corev1.Service {
	if !dns.IsSubDomain(h.zone, name) {
		return nil
	}
	labels := dns.SplitDomainName(strings.TrimSuffix(name, h.zone))
	if len(labels) != 2 {
		return nil
	}
	svc, err := h.services.Services(labels[1]).Get(labels[0])
	if err != nil || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil
	}
	return svc
}

func (h *handler) forward(w dns.ResponseWriter, req *dns.Msg) {
	c := &dns.Client{Timeout: 2 * time.Second}
	for _, server := range h.upstream {
		if resp, _, err := c.Exchange(req, server); err == nil {
			_ = w.WriteMsg(resp)
			return
		}
	}
	refuse(w, req, dns.RcodeServerFailure)
}

func refuse(w dns.ResponseWriter, req *dns.Msg, code int) {
	resp := new(dns.Msg)
	resp.SetRcode(req, code)
	_ = w.WriteMsg(resp)
}
