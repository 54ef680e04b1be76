package e2e

// TestInjector runs, on 127.0.0.1:
//
//  1. etcd and kube-apiserver (token authentication, RBAC);
//  2. the `default` ServiceAccounts the ServiceAccount admission plugin
//     needs (there is no controller-manager to make them);
//  3. loglet-injector, built from this tree, serving a test CA's
//     certificate, and manifests/injector's MutatingWebhookConfiguration
//     pointed at it with that CA;
//
// then checks, through the API:
//
//   - a dryRun=All pod create, retried until the webhook answers;
//   - a labelled pod is injected exactly as the golden file
//     sidecar/internal/inject/testdata/golden/minimal.out.yaml says, and an
//     unlabelled one is not touched;
//   - a pod in a namespace labelled loglet.dev/inject=enabled is injected,
//     unless it opts out with the annotation loglet.dev/inject: "false";
//   - a pod already carrying loglet.dev/status: injected is left alone;
//   - manifests/injector/example's pod, injected, is admitted in a
//     namespace enforcing the restricted Pod Security level;
//   - a pod with a bad annotation is created unchanged and the API server
//     relays the injector's warning;
//   - every manifest under manifests/ is accepted by a server-side apply
//     with dryRun=All and fieldValidation=Strict (cert-manager's
//     CustomResourceDefinitions, from the cert-manager module in go.mod,
//     are installed first);
//   - the Helm chart (manifests/charts/loglet), rendered by the real helm,
//     is server-side applied, its certificate works, and, with its webhook
//     pointed at a loglet-injector run with the chart's Deployment's
//     settings, pods are injected as the chart's values say (its
//     cert-manager rendering passes a dry-run apply too);
//   - `helm install` and `helm upgrade` against the API server keep the
//     chart's generated certificate (lookup).

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/google/go-cmp/cmp"
	"github.com/loglet/loglet/sidecar/testca"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	repoRoot   = "../../.."
	goldenDir  = repoRoot + "/sidecar/internal/inject/testdata/golden"
	token      = "loglet-e2e-token"
	statusAnno = "loglet.dev/status"
)

func TestInjector(t *testing.T) {
	bin := binDir(t)
	work := t.TempDir()

	injectorBin := filepath.Join(work, "loglet-injector")
	run(t, repoRoot, "go", "build", "-o", injectorBin, "./sidecar/cmd/loglet-injector")

	api := startCluster(t, bin, work)
	ca := testca.New(t, "loglet-e2e-ca")
	// The default cluster settings: the golden files are made with them.
	injectorURL := startInjector(t, injectorBin, work, ca, "loglet-injector", nil)

	for _, ns := range []string{"shop", "optin"} {
		labels := map[string]string{}
		if ns == "optin" {
			labels["loglet.dev/inject"] = "enabled"
		}
		api.mustCreate(t, "/api/v1/namespaces", &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels},
		}, false)
		api.mustCreate(t, "/api/v1/namespaces/"+ns+"/serviceaccounts", &corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Name: "default"},
		}, false)
	}

	// manifests/injector's webhook, pointed at the local injector.
	var whc admissionregistrationv1.MutatingWebhookConfiguration
	readYAML(t, repoRoot+"/manifests/injector/mutatingwebhookconfiguration.yaml", &whc)
	for i := range whc.Webhooks {
		u := injectorURL + "/mutate"
		whc.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: ca.PEM}
	}
	api.mustCreate(t, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", &whc, false)

	minimal := readPod(t, goldenDir+"/minimal.in.yaml")

	t.Run("webhook live", func(t *testing.T) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			body, _ := api.mustCreate(t, "/api/v1/namespaces/shop/pods", minimal, true)
			if decodePod(t, body).Annotations[statusAnno] == "injected" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("dry-run pods still not injected after 60s")
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("labelled pod injected as the golden file says", func(t *testing.T) {
		// The golden pod, through the same API defaulting (it carries
		// loglet.dev/status: injected, so the webhook leaves it alone).
		golden := readPod(t, goldenDir+"/minimal.out.yaml")
		golden.Name = "counter-golden"
		body, _ := api.mustCreate(t, "/api/v1/namespaces/shop/pods", golden, true)
		want := view(decodePod(t, body))

		body, _ = api.mustCreate(t, "/api/v1/namespaces/shop/pods", minimal, false)
		created := decodePod(t, body)
		got := view(api.getPod(t, "shop", created.Name))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stored pod differs from minimal.out.yaml (-golden +stored):\n%s", diff)
		}
	})

	t.Run("unlabelled pod untouched", func(t *testing.T) {
		plain := minimal.DeepCopy()
		plain.Name = "plain"
		delete(plain.Labels, "loglet.dev/inject")
		body, _ := api.mustCreate(t, "/api/v1/namespaces/shop/pods", plain, true)
		want := view(decodePod(t, body)) // dry run: what the API makes of it alone
		api.mustCreate(t, "/api/v1/namespaces/shop/pods", plain, false)
		got := api.getPod(t, "shop", "plain")
		assertNotInjected(t, got)
		if diff := cmp.Diff(want, view(got)); diff != "" {
			t.Errorf("unlabelled pod changed (-expected +stored):\n%s", diff)
		}
	})

	t.Run("namespace opt-in and pod opt-out", func(t *testing.T) {
		in := minimal.DeepCopy()
		in.Namespace, in.Name, in.Labels = "optin", "by-namespace", nil
		api.mustCreate(t, "/api/v1/namespaces/optin/pods", in, false)
		if got := api.getPod(t, "optin", "by-namespace"); got.Annotations[statusAnno] != "injected" || !hasContainer(got.Spec.InitContainers, "loglet") {
			t.Errorf("pod in a labelled namespace not injected: %v", got.Annotations)
		}

		out := in.DeepCopy()
		out.Name, out.Annotations = "opted-out", map[string]string{"loglet.dev/inject": "false"}
		api.mustCreate(t, "/api/v1/namespaces/optin/pods", out, false)
		assertNotInjected(t, api.getPod(t, "optin", "opted-out"))
	})

	t.Run("already injected pod left alone", func(t *testing.T) {
		p := minimal.DeepCopy()
		p.Name = "marked"
		p.Annotations = map[string]string{statusAnno: "injected"}
		api.mustCreate(t, "/api/v1/namespaces/shop/pods", p, false)
		got := api.getPod(t, "shop", "marked")
		if hasContainer(got.Spec.InitContainers, "loglet") || hasContainer(got.Spec.Containers, "loglet") || len(got.Spec.Volumes) != 1 {
			t.Errorf("a pod marked injected was changed: %+v", got.Spec)
		}
	})

	t.Run("bad annotation admitted with a warning", func(t *testing.T) {
		p := minimal.DeepCopy()
		p.Name = "bad-annotation"
		p.Annotations = map[string]string{"loglet.dev/log-dir": "relative/dir"}
		_, header := api.mustCreate(t, "/api/v1/namespaces/shop/pods", p, false)
		assertNotInjected(t, api.getPod(t, "shop", "bad-annotation"))
		if w := strings.Join(header.Values("Warning"), "\n"); !strings.Contains(w, "loglet sidecar not injected") || !strings.Contains(w, "loglet.dev/log-dir") {
			t.Errorf("API response warnings %q lack the injector's", w)
		}
	})

	t.Run("injected example passes the restricted Pod Security level", func(t *testing.T) {
		// manifests/injector/example's pod, created in a namespace that
		// opts in and enforces the restricted level: the pod is rejected if
		// the injected sidecar or volumes need any privilege.
		api.mustCreate(t, "/api/v1/namespaces", &corev1.Namespace{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: "restricted", Labels: map[string]string{
				"loglet.dev/inject": "enabled", "pod-security.kubernetes.io/enforce": "restricted",
			}},
		}, false)
		api.mustCreate(t, "/api/v1/namespaces/restricted/serviceaccounts", &corev1.ServiceAccount{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: metav1.ObjectMeta{Name: "default"},
		}, false)
		var d appsv1.Deployment
		readYAML(t, repoRoot+"/manifests/injector/example/deployment.yaml", &d)
		pod := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: d.Spec.Template.ObjectMeta,
			Spec:       d.Spec.Template.Spec,
		}
		pod.Name = "counter"
		_, header := api.mustCreate(t, "/api/v1/namespaces/restricted/pods", pod, false)
		if w := header.Values("Warning"); len(w) > 0 {
			t.Errorf("warnings: %q", w)
		}
		got := api.getPod(t, "restricted", "counter")
		if got.Annotations[statusAnno] != "injected" || !hasContainer(got.Spec.InitContainers, "loglet") {
			t.Errorf("example pod not injected: %v", got.Annotations)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
		resp, err := c.Get(injectorURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, re := range []string{
			`loglet_injector_reviews_total\{outcome="injected"\} [1-9]`,
			`loglet_injector_reviews_total\{outcome="already_injected"\} [1-9]`,
			`loglet_injector_reviews_total\{outcome="opted_out"\} 1\n`,
			`loglet_injector_reviews_total\{outcome="failed"\} 1\n`,
		} {
			if !regexp.MustCompile(re).Match(b) {
				t.Errorf("metrics lack %s", re)
			}
		}
	})

	t.Run("manifests pass server-side dry-run", func(t *testing.T) {
		// manifests/injector has the same webhook configuration, with a
		// Service instead of a URL: remove the test's first, or the apply
		// would merge the two.
		if status, body, _ := api.do("DELETE", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/"+whc.Name, nil, "", nil); status != http.StatusOK {
			t.Fatalf("delete the test's webhook configuration: %d %s", status, body)
		}
		applyManifests(t, api)
	})
	if t.Failed() {
		return
	}

	t.Run("chart applied server-side injects pods", func(t *testing.T) {
		applyChart(t, api, injectorBin, work, ca)
	})

	t.Run("chart installed by helm keeps its certificate on upgrade", func(t *testing.T) {
		helmInstall(t, api, work)
	})
}

// binDir is where etcd and kube-apiserver are: LOGLET_E2E_BIN_DIR, or what
// ../build.sh builds (taking minutes the first time).
func binDir(t *testing.T) string {
	if d := os.Getenv("LOGLET_E2E_BIN_DIR"); d != "" {
		return d
	}
	t.Log("LOGLET_E2E_BIN_DIR is not set; running ../build.sh")
	cmd := exec.Command("../build.sh")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("../build.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a process the test started.
type proc struct {
	name    string
	logPath string
	exited  chan struct{} // closed when it has exited
	err     error         // how it exited, once exited is closed
}

// start runs a process until the test ends (SIGTERM, then SIGKILL after
// 15s), logging to a file whose tail is shown if the test failed.
func start(t *testing.T, logDir, name, path string, env []string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			t.Errorf("%s did not stop on SIGTERM within 15s; killing it", name)
			_ = cmd.Process.Kill()
			<-p.exited
		}
		logFile.Close()
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", name, tail(logPath, 30))
		}
	})
	return p
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls check until it returns nil, failing the test when timeout
// passes or p (if not nil) exits first.
func waitFor(t *testing.T, what string, timeout time.Duration, p *proc, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var exited <-chan struct{}
	if p != nil {
		exited = p.exited
	}
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready after %s: %v", what, timeout, err)
		}
		select {
		case <-exited:
			t.Fatalf("%s exited (%v) before it was ready; its log ends:\n%s", p.name, p.err, tail(p.logPath, 30))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// getOK is a check for waitFor: a GET of url answers 200.
func getOK(c *http.Client, url string) func() error {
	return func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
}

// apiServer is a client of the test's kube-apiserver.
type apiServer struct {
	url    string
	caFile string // the API server's serving certificate, for clients such as helm
	client *http.Client
	gv     map[string]*metav1.APIResourceList // discovery, by group/version
}

func startCluster(t *testing.T, bin, work string) *apiServer {
	t.Helper()
	etcdPort, peerPort, apiPort := freePort(t), freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	begin := time.Now()
	etcd := start(t, work, "etcd", filepath.Join(bin, "etcd"), nil,
		"-data-dir", filepath.Join(work, "etcd"),
		"-listen-client-url", etcdURL,
		"-listen-peer-url", fmt.Sprintf("http://127.0.0.1:%d", peerPort))
	waitFor(t, "etcd", 60*time.Second, etcd, getOK(http.DefaultClient, etcdURL+"/health"))

	// The service account token signer, and the token the test uses.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(work, "sa.key")
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	writeFile(t, keyPath+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	tokens := filepath.Join(work, "tokens.csv")
	writeFile(t, tokens, []byte(token+`,loglet-e2e,loglet-e2e,"system:masters"`+"\n"))
	certDir := filepath.Join(work, "apiserver-certs")

	apiserver := start(t, work, "kube-apiserver", filepath.Join(bin, "kube-apiserver"), nil,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none", // a loopback address cannot be the kubernetes Service's endpoint
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--cert-dir="+certDir,
		"--token-auth-file="+tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+keyPath+".pub",
		"--service-account-signing-key-file="+keyPath,
		"--service-cluster-ip-range=10.96.0.0/24",
	)
	api := &apiServer{url: fmt.Sprintf("https://127.0.0.1:%d", apiPort), caFile: filepath.Join(certDir, "apiserver.crt"), gv: map[string]*metav1.APIResourceList{}}
	// The API server writes a self-signed serving certificate into
	// certDir before it listens; trust exactly that.
	waitFor(t, "kube-apiserver", 120*time.Second, apiserver, func() error {
		if api.client == nil {
			pemBytes, err := os.ReadFile(api.caFile)
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemBytes) {
				return errors.New("apiserver.crt holds no certificate")
			}
			api.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		}
		status, body, _ := api.do("GET", "/readyz", nil, "", nil)
		if status != http.StatusOK {
			return fmt.Errorf("/readyz %d: %s", status, body)
		}
		// The namespace the bootstrap controller creates.
		if status, body, _ := api.do("GET", "/api/v1/namespaces/default", nil, "", nil); status != http.StatusOK {
			return fmt.Errorf("namespace default %d: %s", status, body)
		}
		return nil
	})
	t.Logf("etcd and kube-apiserver ready in %s", time.Since(begin).Round(time.Millisecond))
	return api
}

func (a *apiServer) do(method, path string, query url.Values, contentType string, body []byte) (int, []byte, http.Header) {
	u := a.url + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return 0, []byte(err.Error()), nil
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, []byte(err.Error()), nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// mustCreate POSTs obj to path (a collection), as a dry run if asked.
func (a *apiServer) mustCreate(t *testing.T, path string, obj any, dryRun bool) ([]byte, http.Header) {
	t.Helper()
	body, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"fieldValidation": {"Strict"}}
	if dryRun {
		q.Set("dryRun", "All")
	}
	status, resp, header := a.do("POST", path, q, "application/json", body)
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, status, resp)
	}
	return resp, header
}

func (a *apiServer) getPod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	status, body, _ := a.do("GET", "/api/v1/namespaces/"+ns+"/pods/"+name, nil, "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET pod %s/%s: %d %s", ns, name, status, body)
	}
	return decodePod(t, body)
}

// resourcePath is the REST path of a kind's collection in ns (ignored for
// cluster-scoped kinds), from the server's discovery documents.
func (a *apiServer) resourcePath(t *testing.T, apiVersion, kind, ns string) (string, bool) {
	t.Helper()
	base := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		base = "/api/" + apiVersion
	}
	list := a.gv[apiVersion]
	if list == nil {
		status, body, _ := a.do("GET", base, nil, "", nil)
		if status != http.StatusOK {
			t.Fatalf("discovery %s: %d %s", base, status, body)
		}
		list = &metav1.APIResourceList{}
		if err := json.Unmarshal(body, list); err != nil {
			t.Fatal(err)
		}
		a.gv[apiVersion] = list
	}
	for _, r := range list.APIResources {
		if r.Kind == kind && !strings.Contains(r.Name, "/") {
			if r.Namespaced {
				return base + "/namespaces/" + ns + "/" + r.Name, true
			}
			return base + "/" + r.Name, false
		}
	}
	t.Fatalf("the API server serves no %s %s", apiVersion, kind)
	return "", false
}

// startInjector runs loglet-injector, named name in the test's logs, with
// settings (LOGLET_INJECTOR_ variables) and a certificate from ca for
// 127.0.0.1, and returns its URL once it is ready.
func startInjector(t *testing.T, bin, work string, ca *testca.CA, name string, settings []string) string {
	t.Helper()
	certPEM, keyPEM := testca.PEM(t, ca.Issue(t, "loglet-injector", x509.ExtKeyUsageServerAuth))
	certPath, keyPath := filepath.Join(work, name+".crt"), filepath.Join(work, name+".key")
	writeFile(t, certPath, certPEM)
	writeFile(t, keyPath, keyPEM)

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	injector := start(t, work, name, bin, append(settings,
		"LOGLET_INJECTOR_ADDR="+addr,
		"LOGLET_INJECTOR_TLS_CERT_FILE="+certPath,
		"LOGLET_INJECTOR_TLS_KEY_FILE="+keyPath,
		"LOGLET_INJECTOR_SHUTDOWN_DELAY=0s",
	))
	u := "https://" + addr
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	waitFor(t, name, 30*time.Second, injector, getOK(c, u+"/readyz"))
	return u
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readPod(t *testing.T, path string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	readYAML(t, path, &p)
	return &p
}

func decodePod(t *testing.T, body []byte) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("decode pod: %v\n%s", err, body)
	}
	return &p
}

func hasContainer(cs []corev1.Container, name string) bool {
	for _, c := range cs {
		if c.Name == name {
			return true
		}
	}
	return false
}

func assertNotInjected(t *testing.T, p *corev1.Pod) {
	t.Helper()
	if _, ok := p.Annotations[statusAnno]; ok || hasContainer(p.Spec.InitContainers, "loglet") || hasContainer(p.Spec.Containers, "loglet") {
		t.Errorf("pod %s/%s was injected: %v", p.Namespace, p.Name, p.Annotations)
	}
	for _, v := range p.Spec.Volumes {
		if strings.HasPrefix(v.Name, "loglet-") {
			t.Errorf("pod %s/%s got volume %s", p.Namespace, p.Name, v.Name)
		}
	}
}

// podView is what the comparisons look at: the labels, the annotations and
// the spec, without the API server's service account token volume (randomly
// named, and placed by the ServiceAccount admission plugin before the
// webhooks run, so before the injected volumes). tokenMounts counts where
// it was, to show that it was there.
type podView struct {
	Labels, Annotations map[string]string
	Spec                corev1.PodSpec
	TokenMounts         int
}

var tokenVolume = regexp.MustCompile(`^kube-api-access-[a-z0-9]+$`)

func view(p *corev1.Pod) podView {
	v := podView{Labels: p.Labels, Annotations: p.Annotations}
	spec := p.Spec.DeepCopy()
	spec.Volumes = slices.DeleteFunc(spec.Volumes, func(vol corev1.Volume) bool { return tokenVolume.MatchString(vol.Name) })
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			cs[i].VolumeMounts = slices.DeleteFunc(cs[i].VolumeMounts, func(m corev1.VolumeMount) bool {
				if tokenVolume.MatchString(m.Name) {
					v.TokenMounts++
					return true
				}
				return false
			})
		}
	}
	v.Spec = *spec
	return v
}

// applyManifests installs cert-manager's CRDs, creates the manifests'
// namespaces, and server-side applies every document under manifests/ as a
// dry run with strict field validation.
func applyManifests(t *testing.T, api *apiServer) {
	crdDir := certManagerCRDs(t)
	for _, name := range []string{"cert-manager.io_issuers.yaml", "cert-manager.io_certificates.yaml"} {
		data, err := os.ReadFile(filepath.Join(crdDir, name))
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSON(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		status, body, _ := api.do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", nil, "application/json", js)
		if status != http.StatusCreated {
			t.Fatalf("create CRD %s: %d %s", name, status, body)
		}
	}
	waitFor(t, "cert-manager CRDs", 60*time.Second, nil, func() error {
		for _, crd := range []string{"issuers.cert-manager.io", "certificates.cert-manager.io"} {
			_, body, _ := api.do("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+crd, nil, "", nil)
			var c struct {
				Status struct {
					Conditions []struct{ Type, Status string }
				}
			}
			_ = json.Unmarshal(body, &c)
			established := false
			for _, cond := range c.Status.Conditions {
				established = established || cond.Type == "Established" && cond.Status == "True"
			}
			if !established {
				return fmt.Errorf("%s not established", crd)
			}
		}
		// Discovery must serve the new group before it is used.
		if status, _, _ := api.do("GET", "/apis/cert-manager.io/v1", nil, "", nil); status != http.StatusOK {
			return fmt.Errorf("discovery of cert-manager.io/v1: %d", status)
		}
		return nil
	})

	type doc struct {
		file string
		obj  map[string]any
		raw  []byte
	}
	var docs []doc
	err := filepath.WalkDir(repoRoot+"/manifests", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && path == repoRoot+"/manifests/charts" {
			return fs.SkipDir // templates, not manifests: the chart subtest applies its rendering
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || d.Name() == "kustomization.yaml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		for _, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(part), &obj); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			if obj == nil {
				continue
			}
			docs = append(docs, doc{file: rel, obj: obj, raw: []byte(part)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 10 {
		t.Fatalf("only %d manifests found under manifests/", len(docs))
	}

	// Namespaced objects need their namespace to exist, also for a dry run.
	for _, d := range docs {
		if d.obj["kind"] == "Namespace" {
			api.mustCreate(t, "/api/v1/namespaces", d.obj, false)
		}
	}
	for _, d := range docs {
		apiVersion, _ := d.obj["apiVersion"].(string)
		kind, _ := d.obj["kind"].(string)
		if strings.HasPrefix(apiVersion, "monitoring.coreos.com/") {
			// No Prometheus Operator CRDs here: integration/monitoring decodes
			// manifests/monitoring strictly into the Operator's Go types.
			t.Logf("%s: %s: checked by integration/monitoring", d.file, kind)
			continue
		}
		if strings.HasPrefix(apiVersion, "cert-manager.io/") {
			checkCertManagerKind(t, d.file, kind, d.raw)
		}
		api.serverSideApply(t, d.file, d.raw, true)
	}
}

// certManagerCRDs is the directory of CustomResourceDefinitions in the
// cert-manager module this module requires.
func certManagerCRDs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/cert-manager/cert-manager: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkCertManagerKind decodes a cert-manager object strictly into
// cert-manager's own Go types, as the unit test does for Kubernetes kinds.
func checkCertManagerKind(t *testing.T, file, kind string, raw []byte) {
	t.Helper()
	var into any
	switch kind {
	case "Issuer":
		into = &certmanagerv1.Issuer{}
	case "Certificate":
		into = &certmanagerv1.Certificate{}
	default:
		t.Errorf("%s: unexpected cert-manager kind %s", file, kind)
		return
	}
	if err := yaml.UnmarshalStrict(raw, into); err != nil {
		t.Errorf("%s: %s: %v", file, kind, err)
	}
}
