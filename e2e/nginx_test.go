package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// TestNginxInFront runs Debian's nginx with deploy/nginx/sker.conf, the
// file as shipped with only its addresses and certificate paths filled
// in, in front of the real binary: HTTP redirects to HTTPS, the API
// answers through HTTP/2 at its own /api/v1 paths with the security
// headers, a WebSocket from an origin CORS_ORIGIN lists joins a canvas and
// receives a change made through the API, one from an origin it does not
// list is refused, login limits count the client
// nginx saw (TRUST_PROXY), not nginx and not an address the client made
// up, nginx refuses a body over BODY_LIMIT and hides /metrics.
func TestNginxInFront(t *testing.T) {
	nginx := debianTool(t, "nginx", "nginx")
	s := StartSker(t, Options{Env: map[string]string{"TRUST_PROXY": "127.0.0.1", "CORS_ORIGIN": "https://elsewhere.example"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dir := t.TempDir()
	certPEM := selfSigned(t, dir)
	httpPort, tlsPort := mustFreePort(t), mustFreePort(t)
	conf := nginxSiteConf(t, strings.TrimPrefix(s.URL(), "http://"), httpPort, tlsPort, dir)
	noErr(t, os.WriteFile(filepath.Join(dir, "sker.conf"), []byte(conf), 0o644))
	noErr(t, os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(nginxMainConf(t, nginx, dir)), 0o644))

	args := []string{"-p", dir + "/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log")}
	if out, err := exec.Command(nginx, append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t with deploy/nginx/sker.conf: %v\n%s", err, out)
	}
	cmd := exec.Command(nginx, append(args, "-g", "daemon off;")...)
	noErr(t, cmd.Start())
	t.Cleanup(func() {
		// SIGTERM: the master stops its workers before it exits.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", errLog)
		}
	})
	waitListening(t, tlsPort)

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	tlsConf := &tls.Config{RootCAs: roots} // net/http adds h2 to it: not for the WebSocket
	hc := &http.Client{
		Timeout:       20 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := fmt.Sprintf("https://127.0.0.1:%d", tlsPort)

	// Plain HTTP is redirected to HTTPS, path kept.
	resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/me", httpPort))
	noErr(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://127.0.0.1/api/v1/me" {
		t.Errorf("GET http://…/api/v1/me: got %d Location %q; want 301 to https://127.0.0.1/api/v1/me", resp.StatusCode, resp.Header.Get("Location"))
	}

	// /health through HTTP/2, with the security headers.
	resp, err = hc.Get(base + "/health")
	noErr(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("GET /health through nginx: got %d over %s; want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	for _, h := range []string{"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("GET /health through nginx: no %s header", h)
		}
	}

	// The API at its own paths: register, login, create a canvas.
	front := &Sker{t: t, baseURL: base, hc: hc}
	ann := front.NewClient()
	_, err = ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	sess, err := ann.Login(ctx, "ann@example.com", "correct horse battery")
	noErr(t, err)
	cv, err := ann.CreateCanvas(ctx, "Behind nginx")
	noErr(t, err)

	// A WebSocket through nginx from an origin CORS_ORIGIN lists receives
	// a change made through the API; a foreign origin is refused.
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots}, HandshakeTimeout: 10 * time.Second}
	wsURL := fmt.Sprintf("wss://127.0.0.1:%d/ws?token=%s", tlsPort, sess.AccessToken)
	foreign, wsResp, err := dialer.DialContext(ctx, wsURL, http.Header{"Origin": {"https://evil.example"}})
	if err == nil {
		foreign.Close()
		t.Errorf("WebSocket from https://evil.example through nginx: opened; want 403")
	} else if wsResp == nil || wsResp.StatusCode != http.StatusForbidden {
		t.Errorf("WebSocket from https://evil.example through nginx: %v; want 403", err)
	}
	conn, _, err := dialer.DialContext(ctx, wsURL, http.Header{"Origin": {"https://elsewhere.example"}})
	noErr(t, err)
	defer conn.Close()
	// The studio's own origin opens it too, whatever CORS_ORIGIN lists
	// (nginx passes Host without the port).
	own, _, err := dialer.DialContext(ctx, wsURL, http.Header{"Origin": {base}})
	if err != nil {
		t.Errorf("WebSocket from the site's own origin %s through nginx: %v; want it open", base, err)
	} else {
		own.Close()
	}
	noErr(t, conn.WriteJSON(map[string]any{"type": "join", "canvas": cv.ID}))
	readUntil(t, conn, "joined", 0)
	seq, err := ann.PostOps(ctx, cv.ID, "", Op{Op: "node.add", ID: "n1", Kind: "note"})
	noErr(t, err)
	readUntil(t, conn, "changes", seq)
	got, err := ann.GetCanvas(ctx, cv.ID)
	noErr(t, err)
	if len(got.Nodes) != 1 || got.Nodes[0].ID != "n1" {
		t.Errorf("GET the canvas through nginx: got nodes %+v; want n1", got.Nodes)
	}

	nginxLoginLimits(ctx, t, tlsConf, tlsPort)

	// A body over BODY_LIMIT (4MB) stops at nginx.
	big := bytes.Repeat([]byte("x"), 5<<20)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/auth/login", bytes.NewReader(big))
	noErr(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err = hc.Do(req)
	noErr(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.HasPrefix(resp.Header.Get("Server"), "nginx") {
		t.Errorf("POST 5MB through nginx: got %d from %q; want 413 from nginx", resp.StatusCode, resp.Header.Get("Server"))
	}

	// An upload of the same 5 MB goes through to sker (the files location
	// lets MAX_FILE_SIZE through) and is stored.
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/canvases/"+cv.ID+"/files?name=big.bin", bytes.NewReader(big))
	noErr(t, err)
	req.Header.Set("Authorization", "Bearer "+ann.Token)
	resp, err = hc.Do(req)
	noErr(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("upload of 5 MB through nginx: got %d from %q; want 201", resp.StatusCode, resp.Header.Get("Server"))
	}

	// /metrics is not served to the world.
	resp, err = hc.Get(base + "/metrics")
	noErr(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics through nginx: got %d; want 404", resp.StatusCode)
	}
}

// nginxLoginLimits: with TRUST_PROXY naming nginx (127.0.0.1), failed
// logins count against the address nginx saw. A client at 127.0.0.2 that
// sends a new X-Forwarded-For with each try is limited after 20 failures
// all the same (nginx appends its address; sker takes the rightmost one
// that is not a trusted proxy), while a client at 127.0.0.3 behind the
// same nginx is not.
func nginxLoginLimits(ctx context.Context, t *testing.T, tlsConf *tls.Config, tlsPort int) {
	t.Helper()
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			TLSClientConfig: tlsConf.Clone(), ForceAttemptHTTP2: true, DialContext: d.DialContext}}
	}
	login := func(hc *http.Client, i int, xff string) int {
		body := fmt.Sprintf(`{"email":"nobody%d@example.com","password":"wrong password"}`, i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("https://127.0.0.1:%d/api/v1/auth/login", tlsPort), strings.NewReader(body))
		noErr(t, err)
		req.Header.Set("Content-Type", "application/json")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := hc.Do(req)
		noErr(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	dodger := from("127.0.0.2")
	for i := range 20 {
		if got := login(dodger, i, fmt.Sprintf("203.0.113.%d", i+1)); got != http.StatusUnauthorized {
			t.Fatalf("failed login %d from 127.0.0.2 through nginx: got %d; want 401", i+1, got)
		}
	}
	if got := login(dodger, 20, "198.51.100.1"); got != http.StatusTooManyRequests {
		t.Errorf("21st failed login from 127.0.0.2 with yet another X-Forwarded-For: got %d; want 429", got)
	}
	if got := login(from("127.0.0.3"), 21, ""); got != http.StatusUnauthorized {
		t.Errorf("failed login from 127.0.0.3 through the same nginx: got %d; want 401 (nginx's address is not what counts)", got)
	}
}

// nginxSiteConf is deploy/nginx/sker.conf with its upstream nodes replaced
// by upstream, its listen ports by loopback ones and its certificate paths
// by dir's. Every replacement must find its text, so a change to the
// shipped file that this test would no longer cover fails here.
func nginxSiteConf(t *testing.T, upstream string, httpPort, tlsPort int, dir string) string {
	t.Helper()
	root, err := moduleRoot()
	noErr(t, err)
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "nginx", "sker.conf"))
	noErr(t, err)
	conf := string(raw)
	nodes := regexp.MustCompile(`(?m)^\s*server 10\.0\.0\.1[1-3]:3000 [^;]*;\n`)
	if n := len(nodes.FindAllString(conf, -1)); n != 3 {
		t.Fatalf("deploy/nginx/sker.conf: %d upstream lines server 10.0.0.1x:3000; want 3", n)
	}
	first := true
	conf = nodes.ReplaceAllStringFunc(conf, func(string) string {
		if first {
			first = false
			return "    server " + upstream + " max_fails=3 fail_timeout=10s;\n"
		}
		return ""
	})
	for _, r := range []struct{ old, new string }{
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort)},
		{"listen [::]:80;", ""},
		{"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", tlsPort)},
		{"listen [::]:443 ssl http2;", ""},
		{"/etc/ssl/sker/fullchain.pem", filepath.Join(dir, "cert.pem")},
		{"/etc/ssl/sker/privkey.pem", filepath.Join(dir, "key.pem")},
	} {
		if strings.Count(conf, r.old) != 1 {
			t.Fatalf("deploy/nginx/sker.conf: %q appears %d times; want once", r.old, strings.Count(conf, r.old))
		}
		conf = strings.Replace(conf, r.old, r.new, 1)
	}
	return conf
}

// nginxMainConf is the nginx.conf around the site: every file in dir.
func nginxMainConf(t *testing.T, nginx, dir string) string {
	t.Helper()
	var b strings.Builder
	if os.Geteuid() == 0 {
		b.WriteString("user root;\n") // workers write the temp folders in dir
	}
	fmt.Fprintf(&b, "worker_processes 1;\npid %s;\nerror_log %s warn;\nevents { worker_connections 256; }\nhttp {\n",
		filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"))
	fmt.Fprintf(&b, "    access_log %s;\n", filepath.Join(dir, "access.log"))
	// The temp folders of the modules built in, away from /var/lib/nginx.
	out, err := exec.Command(nginx, "-V").CombinedOutput()
	noErr(t, err)
	for _, m := range regexp.MustCompile(`--http-([a-z-]+)-temp-path=`).FindAllStringSubmatch(string(out), -1) {
		name := strings.ReplaceAll(m[1], "-", "_")
		fmt.Fprintf(&b, "    %s_temp_path %s;\n", name, filepath.Join(dir, "tmp-"+name))
	}
	fmt.Fprintf(&b, "    include %s;\n}\n", filepath.Join(dir, "sker.conf"))
	return b.String()
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns the certificate.
func selfSigned(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	noErr(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	noErr(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	noErr(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	noErr(t, os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644))
	noErr(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certPEM
}

// debianTool finds bin, installing Debian's pkg with apt-get when it is
// missing and this is root on Debian (as scripts/services.sh does), and
// fails otherwise.
func debianTool(t *testing.T, bin, pkg string) string {
	t.Helper()
	find := func() string {
		if p, err := exec.LookPath(bin); err == nil {
			return p
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin"} {
			if p := filepath.Join(d, bin); isExecutable(p) {
				return p
			}
		}
		return ""
	}
	if p := find(); p != "" {
		return p
	}
	_, debErr := os.Stat("/etc/debian_version")
	if _, err := exec.LookPath("apt-get"); err != nil || debErr != nil || os.Geteuid() != 0 {
		t.Fatalf("%s is not installed: install Debian's package as root (apt-get install -y %s)", bin, pkg)
	}
	t.Logf("installing Debian's %s package", pkg)
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", pkg}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	p := find()
	if p == "" {
		t.Fatalf("apt-get install %s left no %s", pkg, bin)
	}
	return p
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func mustFreePort(t *testing.T) int {
	t.Helper()
	p, err := freePort()
	noErr(t, err)
	return p
}

// waitListening waits until something accepts on 127.0.0.1:port.
func waitListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on 127.0.0.1:%d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
