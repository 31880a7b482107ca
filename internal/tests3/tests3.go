// Package tests3 runs a real S3-compatible server for tests: versitygw, an S3 gateway over a
// POSIX directory (github.com/versity/versitygw), on a free port of 127.0.0.1, with its buckets
// in a temporary directory, a generated root key pair, and its own IAM users. The binary is
// built from the Go module proxy the first time on a machine by hack/s3-build.sh, as testpg and
// testbrowser install what they need. No mocks: the tests talk to a real server.
package tests3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw release the tests run (hack/s3-build.sh builds the same one).
const Version = "1.8.0"

// Region is the region the server signs for. It is not the S3 default (us-east-1), so that a
// client that forgets to pass the configured region is found out.
const Region = "eu-west-2"

// VirtualDomain is the domain under which the server also takes virtual-host addressing
// (bucket.s3.localhost:PORT). Such names do not resolve on these machines: a client needs
// Transport, which dials the server whatever the name.
const VirtualDomain = "s3.localhost"

// healthPath answers 200 when the server is up; no bucket can be named with an underscore.
const healthPath = "/_health"

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string
	// Host is host:port, as minio-go and Flux's Bucket take an endpoint.
	Host string
	// VirtualHost is s3.localhost:PORT, for virtual-host addressing through Transport.
	VirtualHost string
	Region      string
	// AccessKey and SecretKey are the root account's, allowed everything.
	AccessKey string
	SecretKey string
	// Dir is the directory holding the buckets (one directory each), the objects inside them.
	Dir string

	versioned bool
	bin       string
	cmd       *exec.Cmd
	done      chan struct{}
	log       string

	mu      sync.Mutex
	paused  bool
	readers map[string][]string // bucket: the access keys Reader granted it to
}

// Start starts a server for t, and stops it and removes its files when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false)
}

// StartVersioned starts a server whose buckets version their objects: Bucket turns versioning
// on, and every put keeps the versions before it (versitygw's --versioning-dir).
func StartVersioned(t testing.TB) *Server {
	t.Helper()
	return start(t, true)
}

func start(t testing.TB, versioned bool) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	s := &Server{
		Region:    Region,
		AccessKey: "ROOT" + strings.ToUpper(randomHex(8)),
		SecretKey: randomHex(20),
		Dir:       filepath.Join(tmp, "buckets"),
		versioned: versioned,
		bin:       bin,
		log:       filepath.Join(tmp, "versitygw.log"),
	}
	for _, d := range []string{s.Dir, filepath.Join(tmp, "iam"), filepath.Join(tmp, "versions")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// A free port can be taken by another process before the server binds it: try again.
	for attempt := 1; ; attempt++ {
		err = s.run(tmp)
		if err == nil || attempt == 3 {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if log, _ := os.ReadFile(s.log); len(log) > 0 {
				t.Logf("versitygw log:\n%s", tail(log, 4000))
			}
		}
		s.stop()
	})
	return s
}

func (s *Server) run(tmp string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.Endpoint = "http://" + s.Host
	s.VirtualHost = net.JoinHostPort(VirtualDomain, strconv.Itoa(port))
	args := []string{
		"--port", s.Host,
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region,
		"--iam-dir", filepath.Join(tmp, "iam"),
		// Every request reads the IAM file, with no cache: a user changed in the file, not
		// only through the admin API (which also clears the cache), counts at once.
		"--iam-cache-disable",
		"--virtual-domain", VirtualDomain,
		"--health", healthPath,
		"--quiet",
		"posix",
	}
	if s.versioned {
		args = append(args, "--versioning-dir", filepath.Join(tmp, "versions"))
	}
	args = append(args, s.Dir)
	logFile, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = cleanEnv()
	cmd.Dir = tmp
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting versitygw: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(s.Endpoint + healthPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("health check: %s", resp.Status)
		}
		select {
		case <-done:
			log, _ := os.ReadFile(s.log)
			return fmt.Errorf("versitygw exited at start (%s):\n%s", cmd.ProcessState, tail(log, 4000))
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.log)
			s.stop()
			return fmt.Errorf("versitygw did not answer on %s: %w\n%s", s.Endpoint, err, tail(log, 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops the server: SIGTERM, then SIGKILL after 10 seconds.
func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.Resume()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Pause freezes the server (SIGSTOP) until Resume, or until the test ends: connections are
// still accepted by the kernel, but nothing is answered, as from a storage that hangs. A read
// under way stops part way. versitygw has no delay of its own to inject; this is the real
// server, stopped.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("pausing versitygw: %v", err)
	}
	s.paused = true
	t.Cleanup(s.Resume)
	// The signal takes a moment to stop every thread; one still running could answer.
	deadline := time.Now().Add(10 * time.Second)
	for !stopped(s.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("versitygw did not stop on SIGSTOP")
		}
		time.Sleep(time.Millisecond)
	}
}

// stopped says whether every thread of process pid is stopped (state T in /proc).
func stopped(pid int) bool {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return false
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// pid (comm) state ...: comm may hold spaces and parentheses, so read after the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// Resume lets a paused server answer again, the requests that waited first.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		s.paused = false
	}
}

// Client is a minio-go client of the root account, with path-style addressing.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	return s.ClientFor(t, s.AccessKey, s.SecretKey)
}

// ClientFor is a minio-go client with the given key pair, with path-style addressing.
func (s *Server) ClientFor(t testing.TB, accessKey, secretKey string) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(accessKey, secretKey, ""),
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Transport dials the server for any host name, so that a client can address buckets as
// virtual hosts (bucket.s3.localhost:PORT) although no such name resolves here. Only the
// connection's address is changed: the request, its Host header and its signature are the
// client's own.
func (s *Server) Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	addr := s.Host
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return tr
}

// Bucket creates a bucket, owned by the root account. On a server from StartVersioned the
// bucket versions its objects.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := s.Client(t)
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	if s.versioned {
		if err := c.EnableVersioning(ctx, name); err != nil {
			t.Fatalf("turning on versioning of bucket %s: %v", name, err)
		}
	}
}

// Put writes an object with the root account, and returns what the server answered (its ETag,
// and its version id on a versioned bucket).
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) minio.UploadInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	info, err := s.Client(t).PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("putting %s/%s: %v", bucket, key, err)
	}
	return info
}

// Reader creates an IAM user (role "user") that may read the objects of bucket and list it,
// nothing more, and returns its key pair. DeleteUser takes it away again, as when a key
// expires or is revoked. The grant is the bucket's policy, which Reader owns: it names every
// reader of the bucket, and replaces any policy set otherwise.
func (s *Server) Reader(t testing.TB, bucket string) (accessKey, secretKey string) {
	t.Helper()
	accessKey, secretKey = "USER"+strings.ToUpper(randomHex(8)), randomHex(20)
	s.admin(t, "create-user", "--access", accessKey, "--secret", secretKey, "--role", "user")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readers == nil {
		s.readers = map[string][]string{}
	}
	readers := append(s.readers[bucket], accessKey)
	principals, _ := json.Marshal(readers)
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Principal":{"AWS":%[1]s},"Action":["s3:GetObject","s3:GetObjectVersion"],"Resource":["arn:aws:s3:::%[2]s/*"]},`+
		`{"Effect":"Allow","Principal":{"AWS":%[1]s},"Action":["s3:ListBucket","s3:ListBucketVersions"],"Resource":["arn:aws:s3:::%[2]s"]}]}`,
		principals, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).SetBucketPolicy(ctx, bucket, policy); err != nil {
		t.Fatalf("granting the new user read access to bucket %s: %v", bucket, err)
	}
	s.readers[bucket] = readers
	return accessKey, secretKey
}

// DeleteUser deletes an IAM user: its next request is refused (InvalidAccessKeyId).
func (s *Server) DeleteUser(t testing.TB, accessKey string) {
	t.Helper()
	s.admin(t, "delete-user", "--access", accessKey)
	// The next Reader's policy must not name it: versitygw refuses a policy with a principal
	// that does not exist.
	s.mu.Lock()
	defer s.mu.Unlock()
	for bucket, keys := range s.readers {
		s.readers[bucket] = slices.DeleteFunc(keys, func(k string) bool { return k == accessKey })
	}
}

// admin runs one of versitygw's own admin commands against the server, signed by the root.
func (s *Server) admin(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := append([]string{"admin", "--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region, "--endpoint-url", s.Endpoint}, args...)
	cmd := exec.CommandContext(ctx, s.bin, all...)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("versitygw admin %s: %v\n%s", args[0], err, out)
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of the versitygw binary, building it with hack/s3-build.sh when the
// cache has none (about 2 minutes, once per machine).
func Binary() (string, error) {
	binOnce.Do(func() { binPath, binErr = binary() })
	return binPath, binErr
}

func binary() (string, error) {
	cache := os.Getenv("SURVEY_CACHE_DIR")
	if cache == "" {
		base, err := os.UserCacheDir() // $XDG_CACHE_HOME, else $HOME/.cache, as the script
		if err != nil {
			return "", err
		}
		cache = filepath.Join(base, "survey-operator")
	}
	bin := filepath.Join(cache, "bin", "versitygw-v"+Version, "versitygw")
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", fmt.Errorf("versitygw is not built (%s) and the script that builds it cannot be found: %w", bin, err)
	}
	script := filepath.Join(root, "hack", "s3-build.sh")
	cmd := exec.Command(script)
	cmd.Env = append(os.Environ(), "S3_VERSION="+Version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w\n%s", script, err, tail(stderr.Bytes(), 4000))
	}
	return strings.TrimSpace(string(out)), nil
}

// repoRoot is the nearest directory above the working directory (a test's is its package's)
// that holds hack/s3-build.sh, else the directory of the main module's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "hack", "s3-build.sh")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the survey-operator module")
	}
	return filepath.Dir(gomod), nil
}

// cleanEnv is the environment without the variables versitygw reads for its settings and
// credentials, so that the caller's environment cannot change the server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "VGW_") || strings.HasPrefix(name, "ROOT_") ||
			strings.HasPrefix(name, "ADMIN_") || name == "LOGFILE" || name == "WEBHOOK" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// CPU is the CPU time (user and system) the server's process has used so far, read from
// /proc/<pid>/stat (utime and stime, fields 14 and 15, in clock ticks of 1/100 s); 0 once it
// has stopped, or where /proc cannot tell. Benchmarks take it before and after their reads.
func (s *Server) CPU() time.Duration {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	end := bytes.LastIndexByte(raw, ')') // after the command's name, which may hold spaces
	if end < 0 {
		return 0
	}
	fields := strings.Fields(string(raw[end+1:])) // state is the first: utime is the 12th
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
