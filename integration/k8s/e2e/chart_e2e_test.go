package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/loglet/loglet/sidecar/testca"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// chartE2EValues are the values the chart is applied with: the chart's own
// certificate (no cert-manager runs here), and sidecar settings away from
// the injector's defaults, to see them arrive in the injected pods.
const chartE2EValues = `
certificates: {source: helm}
kafka:
  brokers: [kafka-0.kafka:9093, kafka-1.kafka:9093]
  key: "{label:app}"
  compression: zstd
  acks: one
sidecar:
  resources: {limits: {memory: 96Mi}}
`

// serverSideApply applies one YAML document with strict field validation
// (as a dry run if asked), failing the test on an error or a warning.
func (a *apiServer) serverSideApply(t *testing.T, what string, raw []byte, dryRun bool) {
	t.Helper()
	var obj struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	ns := obj.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	path, _ := a.resourcePath(t, obj.APIVersion, obj.Kind, ns)
	q := url.Values{"fieldManager": {"loglet-e2e"}, "fieldValidation": {"Strict"}, "force": {"true"}}
	if dryRun {
		q.Set("dryRun", "All")
	}
	status, body, header := a.do("PATCH", path+"/"+obj.Metadata.Name, q, "application/apply-patch+yaml", raw)
	if status != http.StatusOK && status != http.StatusCreated {
		t.Errorf("%s: %s %s: server-side apply: %d %s", what, obj.Kind, obj.Metadata.Name, status, body)
		return
	}
	if w := header.Values("Warning"); len(w) > 0 {
		t.Errorf("%s: %s %s: API server warnings: %q", what, obj.Kind, obj.Metadata.Name, w)
	}
	t.Logf("%s: %s %s applied", what, obj.Kind, obj.Metadata.Name)
}

// applyRendering server-side applies every document of a helm template
// output.
func (a *apiServer) applyRendering(t *testing.T, rendering string, dryRun bool) {
	t.Helper()
	n := 0
	for _, doc := range docSeparator.Split(rendering, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		what := "chart"
		if m := sourceLine.FindStringSubmatch(doc); m != nil {
			what = m[1]
		}
		a.serverSideApply(t, what, []byte(doc), dryRun)
		n++
	}
	if n < 6 {
		t.Fatalf("only %d objects in the rendering", n)
	}
}

func (a *apiServer) get(t *testing.T, path string, into any) {
	t.Helper()
	status, body, _ := a.do("GET", path, nil, "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// applyChart applies the chart as `helm template | kubectl apply
// --server-side` would, checks what the API server stored, then runs
// loglet-injector with the settings of the chart's Deployment (no kubelet
// runs its pods here) and points the chart's webhook at it, as the README's
// patch does for a caBundle, and creates pods through it. It runs after
// applyManifests, which made the namespace loglet-system and installed
// cert-manager's CRDs.
func applyChart(t *testing.T, api *apiServer, injectorBin, work string, ca *testca.CA) {
	out, err := helm(t, "template", "loglet", chartDir, "--namespace", "loglet-system", "-f", valuesFile(t, chartE2EValues))
	if err != nil {
		t.Fatal(err)
	}
	api.applyRendering(t, out, false)

	// With cert-manager, as a dry run (there is no cert-manager to act).
	cm, err := helm(t, "template", "loglet", chartDir, "--namespace", "loglet-system", "--api-versions", "cert-manager.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm, "kind: Certificate") {
		t.Fatal("no Certificate in the cert-manager rendering")
	}
	api.applyRendering(t, cm, true)
	if t.Failed() {
		return
	}

	var secret corev1.Secret
	api.get(t, "/api/v1/namespaces/loglet-system/secrets/loglet-injector-tls", &secret)
	checkServingCert(t, &secret, "loglet-injector.loglet-system.svc")
	var whc admissionregistrationv1.MutatingWebhookConfiguration
	api.get(t, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/loglet-injector", &whc)
	if len(whc.Webhooks) != 2 {
		t.Fatalf("%d webhooks stored", len(whc.Webhooks))
	}
	for _, w := range whc.Webhooks {
		if string(w.ClientConfig.CABundle) != string(secret.Data["ca.crt"]) || w.ClientConfig.Service == nil || w.ClientConfig.Service.Name != "loglet-injector" {
			t.Errorf("stored webhook %s: client config %+v", w.Name, w.ClientConfig)
		}
	}
	var d appsv1.Deployment
	api.get(t, "/apis/apps/v1/namespaces/loglet-system/deployments/loglet-injector", &d)
	var settings []string
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s is not a literal value", e.Name)
		}
		settings = append(settings, e.Name+"="+e.Value)
	}
	injectorURL := startInjector(t, injectorBin, work, ca, "loglet-injector-chart", settings)

	// The chart's webhooks, pointed at the local injector.
	var patch []map[string]any
	for i := range whc.Webhooks {
		patch = append(patch, map[string]any{"op": "replace", "path": fmt.Sprintf("/webhooks/%d/clientConfig", i),
			"value": admissionregistrationv1.WebhookClientConfig{URL: new(injectorURL + "/mutate"), CABundle: ca.PEM}})
	}
	body, _ := json.Marshal(patch)
	if status, resp, _ := api.do("PATCH", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/loglet-injector", nil, "application/json-patch+json", body); status != http.StatusOK {
		t.Fatalf("patch the chart's webhook configuration: %d %s", status, resp)
	}

	minimal := readPod(t, goldenDir+"/minimal.in.yaml")
	minimal.Name = "via-chart"
	deadline := time.Now().Add(60 * time.Second)
	for {
		body, _ := api.mustCreate(t, "/api/v1/namespaces/shop/pods", minimal, true)
		if decodePod(t, body).Annotations[statusAnno] == "injected" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dry-run pods still not injected through the chart's webhook after 60s")
		}
		time.Sleep(500 * time.Millisecond)
	}

	byNamespace := minimal.DeepCopy()
	byNamespace.Namespace, byNamespace.Labels = "optin", nil
	for _, p := range []*corev1.Pod{minimal, byNamespace} {
		ns := p.Namespace
		if ns == "" {
			ns = "shop"
		}
		api.mustCreate(t, "/api/v1/namespaces/"+ns+"/pods", p, false)
		got := api.getPod(t, ns, p.Name)
		if got.Annotations[statusAnno] != "injected" {
			t.Errorf("%s/%s not injected: %v", ns, p.Name, got.Annotations)
			continue
		}
		i := slices.IndexFunc(got.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == "loglet" })
		if i < 0 {
			t.Errorf("%s/%s: no loglet init container", ns, p.Name)
			continue
		}
		sidecar := got.Spec.InitContainers[i]
		env := map[string]string{}
		for _, e := range sidecar.Env {
			if e.ValueFrom == nil {
				env[e.Name] = e.Value
			}
		}
		want := map[string]string{
			"LOGLET_KAFKA_BROKERS":        "kafka-0.kafka:9093,kafka-1.kafka:9093",
			"LOGLET_KAFKA_KEY":            "{label:app}",
			"LOGLET_KAFKA_COMPRESSION":    "zstd",
			"LOGLET_KAFKA_ACKS":           "one",
			"LOGLET_KAFKA_TLS":            "true",
			"LOGLET_KAFKA_TLS_CA_FILE":    "/etc/loglet/kafka/ca.crt",
			"LOGLET_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s/%s: sidecar %s = %q, want %q", ns, p.Name, k, env[k], v)
			}
		}
		if sidecar.Image != "ghcr.io/loglet/loglet:"+version || sidecar.Resources.Limits.Memory().String() != "96Mi" {
			t.Errorf("%s/%s: sidecar image %s, memory limit %s", ns, p.Name, sidecar.Image, sidecar.Resources.Limits.Memory())
		}
		// #9: a livenessProbe, no readinessProbe.
		if sidecar.ReadinessProbe != nil || sidecar.LivenessProbe == nil || sidecar.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("%s/%s: sidecar probes: readiness %+v, liveness %+v", ns, p.Name, sidecar.ReadinessProbe, sidecar.LivenessProbe)
		}
		if !slices.ContainsFunc(got.Spec.Volumes, func(v corev1.Volume) bool { return v.Secret != nil && v.Secret.SecretName == "loglet-kafka" }) {
			t.Errorf("%s/%s: no volume of the Secret loglet-kafka", ns, p.Name)
		}
	}
}

// helmInstall installs the chart with `helm install` into the API server,
// then upgrades it: the generated certificate stays (the chart looks the
// Secret up), and the upgrade's other change lands. Auto-detection picks
// cert-manager where the cluster serves it (applyManifests installed its
// CRDs).
func helmInstall(t *testing.T, api *apiServer, work string) {
	kubeconfig := filepath.Join(work, "kubeconfig")
	writeFile(t, kubeconfig, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters: [{name: e2e, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: e2e, user: {token: %q}}]
contexts: [{name: e2e, context: {cluster: e2e, user: e2e}}]
current-context: e2e
`, api.url, api.caFile, token))
	kc := []string{"--kubeconfig", kubeconfig, "--namespace", "loglet-helm"}

	validated, err := helm(t, append([]string{"template", "other", chartDir, "--validate"}, kc...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(validated, "kind: Certificate") || strings.Contains(validated, "kind: Secret") {
		t.Errorf("certificates.source auto, in a cluster serving cert-manager.io/v1, did not choose cert-manager:\n%s", validated)
	}

	out, err := helm(t, append([]string{"install", "other", chartDir, "--create-namespace", "--set", "certificates.source=helm"}, kc...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "kubectl label namespace <namespace> loglet.dev/inject=enabled") || !strings.Contains(out, "ca.crt, username, password") {
		t.Errorf("helm install's notes lack the opt-in and the Secret:\n%s", out)
	}
	const secretPath = "/api/v1/namespaces/loglet-helm/secrets/other-injector-tls"
	var before corev1.Secret
	api.get(t, secretPath, &before)
	checkServingCert(t, &before, "other-injector.loglet-helm.svc")

	if out, err := helm(t, append([]string{"upgrade", "other", chartDir, "--set", "certificates.source=helm", "--set", "replicas=3"}, kc...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var after corev1.Secret
	api.get(t, secretPath, &after)
	if diff := cmp.Diff(before.Data, after.Data); diff != "" {
		t.Errorf("helm upgrade changed the generated certificate (-before +after):\n%s", diff)
	}
	var whc admissionregistrationv1.MutatingWebhookConfiguration
	api.get(t, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/other-injector", &whc)
	for _, w := range whc.Webhooks {
		if string(w.ClientConfig.CABundle) != string(after.Data["ca.crt"]) {
			t.Errorf("after the upgrade, webhook %s trusts another CA than the Secret's", w.Name)
		}
	}
	var d appsv1.Deployment
	api.get(t, "/apis/apps/v1/namespaces/loglet-helm/deployments/other-injector", &d)
	if *d.Spec.Replicas != 3 {
		t.Errorf("after the upgrade, replicas %d, want 3", *d.Spec.Replicas)
	}
}

// version is the project's version, from the VERSION file: the injector's
// default image, and the chart's appVersion, carry it as their tag.
var version = func() string {
	b, err := os.ReadFile(repoRoot + "/VERSION")
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(string(b))
}()
