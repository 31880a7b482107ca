// Package testsmtp is an in-process SMTP server for tests (emersion/go-smtp): it keeps what it
// receives, can require AUTH PLAIN, can refuse chosen recipients, and counts connections.
package testsmtp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mode is how the server expects TLS: "None", "StartTLS" or "TLS" (implicit).
type Mode string

// Message is one message as received.
type Message struct {
	From, To string
	Data     []byte
	// Received is when the message's data was accepted.
	Received time.Time
}

// Sink is a running server.
type Sink struct {
	// User and Password, when User is set, are required with AUTH PLAIN.
	User, Password string
	// Refuse maps a recipient to the SMTP code it is refused with.
	Refuse map[string]int
	// Delay is how long the sink takes to accept a message, like a relay that queues it
	// durably before answering 250.
	Delay time.Duration
	// Discard keeps nothing of the messages, only their count in Received: for benchmarks that
	// send millions.
	Discard  bool
	Received atomic.Int64

	Port      int
	ClientTLS *tls.Config // trusts the server's certificate
	Conns     atomic.Int64

	mu       sync.Mutex
	messages []Message
}

// Start runs a sink until the test ends.
func Start(t testing.TB, mode Mode, configure func(*Sink)) *Sink {
	k := &Sink{Refuse: map[string]int{}}
	if configure != nil {
		configure(k)
	}
	srvTLS, pool := selfSigned(t)
	srv := smtp.NewServer(k)
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = mode == "None"
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener = counting{raw, &k.Conns}
	switch mode {
	case "TLS":
		l = tls.NewListener(l, srvTLS)
	case "StartTLS":
		srv.TLSConfig = srvTLS
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	k.Port = raw.Addr().(*net.TCPAddr).Port
	k.ClientTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	return k
}

// Messages returns what arrived so far.
func (k *Sink) Messages() []Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Message(nil), k.messages...)
}

type counting struct {
	net.Listener
	n *atomic.Int64
}

func (l counting) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// NewSession implements smtp.Backend.
func (k *Sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{k: k}, nil }

type session struct {
	k        *Sink
	authed   bool
	from, to string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.k.User || pass != s.k.Password {
			// As relays refuse credentials: 535 5.7.8, a permanent failure.
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.k.User != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if code := s.k.Refuse[to]; code != 0 {
		return &smtp.SMTPError{Code: code, Message: "refused"}
	}
	s.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	var b []byte
	var err error
	if s.k.Discard {
		_, err = io.Copy(io.Discard, r)
	} else {
		b, err = io.ReadAll(r)
	}
	if err != nil {
		return err
	}
	time.Sleep(s.k.Delay)
	s.k.Received.Add(1)
	if s.k.Discard {
		return nil
	}
	s.k.mu.Lock()
	s.k.messages = append(s.k.messages, Message{From: s.from, To: s.to, Data: b, Received: time.Now()})
	s.k.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", "" }
func (s *session) Logout() error { return nil }

func selfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}
