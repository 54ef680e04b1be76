package e2e

// The Helm chart's tests, with the real helm that ../build.sh builds from
// Go modules: `helm lint`; `helm template` with the defaults and with value
// sets, every object decoded strictly into the Kubernetes (and
// cert-manager) API types; the default rendering against manifests/injector,
// object by object; the values schema refusing wrong values; and the chart
// setting every cluster setting loglet-injector has. TestInjector (in
// e2e_test.go) applies a rendering to the real API server and injects a pod
// through it.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = repoRoot + "/manifests/charts/loglet"
	injectorDir = repoRoot + "/manifests/injector"
)

// helmLabels are the labels the chart puts on every object (and the
// instance label on its selectors) that manifests/injector does not have:
// the one documented difference between the two besides the Namespace.
var helmLabels = map[string]bool{
	"app.kubernetes.io/instance":   true,
	"app.kubernetes.io/version":    true,
	"app.kubernetes.io/managed-by": true,
	"helm.sh/chart":                true,
}

// helm runs the helm binary ../build.sh builds, and returns its standard
// output, or an error holding its standard error.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir(t), "helm"), args...)
	// No user's helm configuration or repositories.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// object is one decoded document of a rendering or a manifest.
type object struct {
	source string // the file helm names in its "# Source:" line, or the manifest's
	obj    runtime.Object
}

func (o object) key() string {
	gvk := o.obj.GetObjectKind().GroupVersionKind()
	m := o.obj.(interface{ GetName() string })
	return gvk.Kind + "/" + m.GetName()
}

// strictDecoder decodes YAML into the Kubernetes API types and
// cert-manager's, failing on unknown and duplicate fields and unknown kinds.
func strictDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, admissionregistrationv1.AddToScheme, certmanagerv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
}

var (
	docSeparator = regexp.MustCompile(`(?m)^---\s*$`)
	sourceLine   = regexp.MustCompile(`(?m)^# Source: (\S+)`)
)

// decodeAll decodes every non-empty document of a YAML stream strictly.
func decodeAll(t *testing.T, name, stream string) []object {
	t.Helper()
	dec := strictDecoder(t)
	var out []object
	for i, doc := range docSeparator.Split(stream, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		src := name
		if m := sourceLine.FindStringSubmatch(doc); m != nil {
			src = m[1]
		}
		obj, _, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Errorf("%s, document %d (%s): %v\n%s", name, i+1, src, err, doc)
			continue
		}
		out = append(out, object{source: src, obj: obj})
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// render runs helm template for the release loglet in loglet-system with
// args added, and decodes the result strictly.
func render(t *testing.T, args ...string) []object {
	t.Helper()
	out, err := helm(t, append([]string{"template", "loglet", chartDir, "--namespace", "loglet-system"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, "helm template", out)
}

// valuesFile writes values (YAML) to a file for helm's -f.
func valuesFile(t *testing.T, values string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.yaml")
	writeFile(t, p, []byte(values))
	return p
}

func keys(objs []object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.key())
	}
	return ks
}

// get returns the only object of type T in objs.
func get[T runtime.Object](t *testing.T, objs []object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T in %v, want 1", len(found), zero, keys(objs))
	}
	return found[0]
}

func injectorEnv(t *testing.T, objs []object) map[string]string {
	t.Helper()
	d := get[*appsv1.Deployment](t, objs)
	env := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s is not a literal value", e.Name)
		}
		env[e.Name] = e.Value
	}
	return env
}

func TestChartLint(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--set", "certificates.source=cert-manager"},
		{"-f", valuesFile(t, fullValues)},
	} {
		out, err := helm(t, append([]string{"lint", "--strict", chartDir}, args...)...)
		if err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

// TestChartDefaultsMatchManifests: the chart's default rendering (with
// cert-manager in the cluster) holds manifests/injector's objects, field
// for field, but for helmLabels; manifests/injector's Namespace is the one
// object the chart does not make (Helm installs into an existing namespace,
// or makes it with --create-namespace).
func TestChartDefaultsMatchManifests(t *testing.T) {
	chart := render(t, "--api-versions", "cert-manager.io/v1")

	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	readYAML(t, injectorDir+"/kustomization.yaml", &k)
	var manifests []object
	for _, r := range k.Resources {
		data, err := os.ReadFile(filepath.Join(injectorDir, r))
		if err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, decodeAll(t, r, string(data))...)
	}

	byKey := map[string]runtime.Object{}
	for _, o := range chart {
		byKey[o.key()] = o.obj
	}
	var want []string
	for _, m := range manifests {
		if m.key() == "Namespace/loglet-system" {
			continue
		}
		want = append(want, m.key())
		got, ok := byKey[m.key()]
		if !ok {
			t.Errorf("the chart renders no %s (manifests/injector/%s)", m.key(), m.source)
			continue
		}
		if diff := cmp.Diff(m.obj, got, cmpopts.IgnoreMapEntries(func(k, _ string) bool { return helmLabels[k] })); diff != "" {
			t.Errorf("%s: the chart's default differs from manifests/injector/%s (-kustomize +chart):\n%s", m.key(), m.source, diff)
		}
	}
	slices.Sort(want)
	got := keys(chart)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects (-manifests/injector +chart):\n%s", diff)
	}
}

// fullValues sets every value of the chart away from its default.
const fullValues = `
fullnameOverride: logs
image: {repository: registry.example.com/loglet, tag: "1.2.3", pullPolicy: Always}
imagePullSecrets: [{name: regcred}]
replicas: 3
podDisruptionBudget: {enabled: true, minAvailable: "50%"}
resources: {requests: {cpu: 20m, memory: 40Mi}, limits: {cpu: "1", memory: 128Mi}}
logLevel: debug
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: infra, effect: NoSchedule}]
affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: infra, operator: Exists}]}]}}}
priorityClassName: system-cluster-critical
podAnnotations: {example.com/team: platform}
podLabels: {example.com/team: platform}
extraEnv: [{name: LOGLET_INJECTOR_SHUTDOWN_DELAY, value: 5s}]
webhook: {failurePolicy: Fail, timeoutSeconds: 10}
selection:
  pods: true
  namespaces: true
  excludedNamespaces: [kube-system, kube-public, monitoring]
  namespaceSelector: {matchLabels: {env: prod}, matchExpressions: [{key: tier, operator: NotIn, values: [test]}]}
  objectSelector: {matchLabels: {logs: "yes"}, matchExpressions: [{key: batch, operator: DoesNotExist}]}
sidecar:
  image: {repository: registry.example.com/loglet-sidecar, tag: "1.2.4", pullPolicy: IfNotPresent}
  resources: {requests: {cpu: 100m, memory: 48Mi}, limits: {cpu: "1", memory: 96Mi}}
  logDir: /var/log/myapp
  logVolumeSizeLimit: 1Gi
  mode: container
  terminationGracePeriodSeconds: 45
kafka:
  brokers: [kafka-0.kafka:9093, kafka-1.kafka:9093]
  topic: logs.{namespace}.{label:app}
  key: "{namespace}/{pod}"
  compression: zstd
  acks: one
  secret: kafka-creds
  tls: true
  clientCert: true
  saslMechanism: SCRAM-SHA-256
  topicPolicy: {sharedPrefixes: [shared., audit.], allowAny: true}
certificates:
  source: cert-manager
  certManager:
    issuerRef: {name: internal-ca, kind: ClusterIssuer, group: cert-manager.io}
    duration: 720h
    renewBefore: 240h
`

func TestChartValues(t *testing.T) {
	t.Run("defaults without cert-manager: the chart's own certificate", func(t *testing.T) {
		objs := render(t)
		want := []string{"MutatingWebhookConfiguration/loglet-injector", "Secret/loglet-injector-tls", "Deployment/loglet-injector",
			"PodDisruptionBudget/loglet-injector", "Service/loglet-injector", "ServiceAccount/loglet-injector"}
		got := keys(objs)
		slices.Sort(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("objects (-want +got):\n%s", diff)
		}
		whc := get[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs)
		if _, ok := whc.Annotations["cert-manager.io/inject-ca-from"]; ok {
			t.Error("cert-manager annotation without cert-manager")
		}
		secret := get[*corev1.Secret](t, objs)
		for _, w := range whc.Webhooks {
			if !bytes.Equal(w.ClientConfig.CABundle, secret.Data["ca.crt"]) {
				t.Errorf("webhook %s: caBundle is not the Secret's ca.crt", w.Name)
			}
		}
		checkServingCert(t, secret, "loglet-injector.loglet-system.svc")
		// auto is helm here; so is helm asked for.
		if diff := cmp.Diff(keys(objs), keys(render(t, "--set", "certificates.source=helm", "--api-versions", "cert-manager.io/v1"))); diff != "" {
			t.Errorf("certificates.source=helm differs from auto without cert-manager:\n%s", diff)
		}
	})

	t.Run("every value set", func(t *testing.T) {
		objs := render(t, "-f", valuesFile(t, fullValues))
		want := []string{"Certificate/logs", "Deployment/logs", "MutatingWebhookConfiguration/logs", "PodDisruptionBudget/logs",
			"Service/logs", "ServiceAccount/logs"}
		got := keys(objs)
		slices.Sort(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("objects (-want +got; no Issuer with an issuerRef):\n%s", diff)
		}
		wantEnv := map[string]string{
			"LOGLET_INJECTOR_IMAGE":                            "registry.example.com/loglet-sidecar:1.2.4",
			"LOGLET_INJECTOR_IMAGE_PULL_POLICY":                "IfNotPresent",
			"LOGLET_INJECTOR_KAFKA_BROKERS":                    "kafka-0.kafka:9093,kafka-1.kafka:9093",
			"LOGLET_INJECTOR_KAFKA_TOPIC":                      "logs.{namespace}.{label:app}",
			"LOGLET_INJECTOR_KAFKA_KEY":                        "{namespace}/{pod}",
			"LOGLET_INJECTOR_KAFKA_COMPRESSION":                "zstd",
			"LOGLET_INJECTOR_KAFKA_ACKS":                       "one",
			"LOGLET_INJECTOR_KAFKA_SECRET":                     "kafka-creds",
			"LOGLET_INJECTOR_KAFKA_TLS":                        "true",
			"LOGLET_INJECTOR_KAFKA_CLIENT_CERT":                "true",
			"LOGLET_INJECTOR_KAFKA_SASL_MECHANISM":             "SCRAM-SHA-256",
			"LOGLET_INJECTOR_SHARED_TOPIC_PREFIXES":            "shared.,audit.",
			"LOGLET_INJECTOR_ALLOW_ANY_TOPIC":                  "true",
			"LOGLET_INJECTOR_CPU_REQUEST":                      "100m",
			"LOGLET_INJECTOR_MEMORY_REQUEST":                   "48Mi",
			"LOGLET_INJECTOR_CPU_LIMIT":                        "1",
			"LOGLET_INJECTOR_MEMORY_LIMIT":                     "96Mi",
			"LOGLET_INJECTOR_LOG_DIR":                          "/var/log/myapp",
			"LOGLET_INJECTOR_LOG_VOLUME_SIZE_LIMIT":            "1Gi",
			"LOGLET_INJECTOR_SIDECAR_MODE":                     "container",
			"LOGLET_INJECTOR_TERMINATION_GRACE_PERIOD_SECONDS": "45",
			"LOGLET_INJECTOR_LOG_LEVEL":                        "debug",
			"LOGLET_INJECTOR_SHUTDOWN_DELAY":                   "5s",
		}
		if diff := cmp.Diff(wantEnv, injectorEnv(t, objs)); diff != "" {
			t.Errorf("injector environment (-want +got):\n%s", diff)
		}

		d := get[*appsv1.Deployment](t, objs)
		spec := d.Spec.Template.Spec
		c := spec.Containers[0]
		if *d.Spec.Replicas != 3 || c.Image != "registry.example.com/loglet:1.2.3" || c.ImagePullPolicy != corev1.PullAlways ||
			c.Resources.Limits.Memory().String() != "128Mi" || spec.ServiceAccountName != "logs" ||
			spec.Volumes[0].Secret.SecretName != "logs-tls" || spec.PriorityClassName != "system-cluster-critical" ||
			spec.NodeSelector["kubernetes.io/os"] != "linux" || len(spec.Tolerations) != 1 || spec.ImagePullSecrets[0].Name != "regcred" ||
			spec.Affinity.NodeAffinity == nil || spec.Affinity.PodAntiAffinity != nil ||
			d.Spec.Template.Annotations["example.com/team"] != "platform" || d.Spec.Template.Labels["example.com/team"] != "platform" {
			t.Errorf("deployment does not follow the values:\n%s", toYAML(t, d))
		}
		// The injector keeps its own probes.
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("injector probes: %+v %+v", c.ReadinessProbe, c.LivenessProbe)
		}

		pdb := get[*policyv1.PodDisruptionBudget](t, objs)
		if *pdb.Spec.MinAvailable != intstr.FromString("50%") {
			t.Errorf("PDB minAvailable %v", pdb.Spec.MinAvailable)
		}

		cert := get[*certmanagerv1.Certificate](t, objs)
		if cert.Spec.IssuerRef.Name != "internal-ca" || cert.Spec.IssuerRef.Kind != "ClusterIssuer" || cert.Spec.Duration.Duration.Hours() != 720 ||
			!slices.Equal(cert.Spec.DNSNames, []string{"logs.loglet-system.svc", "logs.loglet-system.svc.cluster.local"}) {
			t.Errorf("certificate:\n%s", toYAML(t, cert))
		}

		whc := get[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs)
		if whc.Annotations["cert-manager.io/inject-ca-from"] != "loglet-system/logs" || len(whc.Webhooks) != 2 {
			t.Fatalf("webhook configuration:\n%s", toYAML(t, whc))
		}
		excluded := []string{"loglet-system", "kube-system", "kube-public", "monitoring"}
		pods, nss := whc.Webhooks[0], whc.Webhooks[1]
		for _, w := range whc.Webhooks {
			if *w.FailurePolicy != admissionregistrationv1.Fail || *w.TimeoutSeconds != 10 || w.ClientConfig.Service.Name != "logs" {
				t.Errorf("webhook %s: %+v", w.Name, w)
			}
			if w.NamespaceSelector.MatchLabels["env"] != "prod" || !hasExpr(w.NamespaceSelector.MatchExpressions, "tier", "NotIn", "test") ||
				!hasExpr(w.NamespaceSelector.MatchExpressions, "kubernetes.io/metadata.name", "NotIn", excluded...) {
				t.Errorf("webhook %s namespaceSelector %+v", w.Name, w.NamespaceSelector)
			}
			if w.ObjectSelector.MatchLabels["logs"] != "yes" || !hasExpr(w.ObjectSelector.MatchExpressions, "batch", "DoesNotExist") {
				t.Errorf("webhook %s objectSelector %+v", w.Name, w.ObjectSelector)
			}
		}
		if pods.Name != "pods.inject.loglet.dev" || pods.ObjectSelector.MatchLabels["loglet.dev/inject"] != "enabled" ||
			nss.Name != "namespaces.inject.loglet.dev" || !hasExpr(nss.NamespaceSelector.MatchExpressions, "loglet.dev/inject", "In", "enabled") ||
			!hasExpr(nss.ObjectSelector.MatchExpressions, "loglet.dev/inject", "NotIn", "enabled") {
			t.Errorf("webhooks:\n%s", toYAML(t, whc))
		}
	})

	t.Run("selection", func(t *testing.T) {
		for _, tt := range []struct {
			set  string
			want []string // webhook names
		}{
			{"selection.pods=false", []string{"namespaces.inject.loglet.dev"}},
			{"selection.namespaces=false", []string{"pods.inject.loglet.dev"}},
		} {
			whc := get[*admissionregistrationv1.MutatingWebhookConfiguration](t, render(t, "--set", tt.set))
			var names []string
			for _, w := range whc.Webhooks {
				names = append(names, w.Name)
				// Without the pod webhook, labelled pods of opted-in
				// namespaces are the namespace webhook's too.
				if w.Name == "namespaces.inject.loglet.dev" && w.ObjectSelector != nil && len(w.ObjectSelector.MatchExpressions) > 0 {
					t.Errorf("%s: namespace webhook still skips labelled pods: %+v", tt.set, w.ObjectSelector)
				}
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("%s: webhooks %v, want %v", tt.set, names, tt.want)
			}
		}
	})

	t.Run("no PodDisruptionBudget", func(t *testing.T) {
		for _, o := range render(t, "--set", "podDisruptionBudget.enabled=false") {
			if _, ok := o.obj.(*policyv1.PodDisruptionBudget); ok {
				t.Error("PodDisruptionBudget rendered although disabled")
			}
		}
	})

	t.Run("another release and namespace", func(t *testing.T) {
		out, err := helm(t, "template", "logs", chartDir, "--namespace", "observability")
		if err != nil {
			t.Fatal(err)
		}
		objs := decodeAll(t, "helm template", out)
		whc := get[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs)
		for _, w := range whc.Webhooks {
			if !hasExpr(w.NamespaceSelector.MatchExpressions, "kubernetes.io/metadata.name", "NotIn", "observability", "kube-system", "kube-public") ||
				w.ClientConfig.Service.Name != "logs-injector" || w.ClientConfig.Service.Namespace != "observability" {
				t.Errorf("webhook %s: %+v %+v", w.Name, w.NamespaceSelector, w.ClientConfig.Service)
			}
		}
		checkServingCert(t, get[*corev1.Secret](t, objs), "logs-injector.observability.svc")
		d := get[*appsv1.Deployment](t, objs)
		if d.Name != "logs-injector" || d.Namespace != "observability" || d.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != "logs" {
			t.Errorf("deployment %s/%s selector %v", d.Namespace, d.Name, d.Spec.Selector.MatchLabels)
		}
	})
}

func hasExpr(exprs []metav1.LabelSelectorRequirement, key, op string, values ...string) bool {
	for _, e := range exprs {
		if e.Key == key && string(e.Operator) == op && slices.Equal(e.Values, values) {
			return true
		}
	}
	return false
}

func toYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkServingCert checks the chart's generated certificate as the API
// server and the injector will use it: tls.crt and tls.key are a pair the
// injector loads (tls.X509KeyPair, as it does), and tls.crt is valid for the
// Service's DNS name, as a TLS server, under ca.crt (the caBundle).
func checkServingCert(t *testing.T, s *corev1.Secret, dnsName string) {
	t.Helper()
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %q", s.Type)
	}
	pair, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"])
	if err != nil {
		t.Fatalf("tls.crt and tls.key: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.Data["ca.crt"]) {
		t.Fatalf("ca.crt holds no certificate:\n%s", s.Data["ca.crt"])
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{dnsName, dnsName + ".cluster.local"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("tls.crt for %s: %v", name, err)
		}
	}
	if b, _ := pem.Decode(s.Data["ca.crt"]); b == nil || b.Type != "CERTIFICATE" {
		t.Error("ca.crt is not a PEM certificate")
	}
}

// TestChartSchemaRefuses: a wrong value stops helm template with a message
// naming it, from values.schema.json or from the chart's own checks.
func TestChartSchemaRefuses(t *testing.T) {
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--set", "replicas=two"}, "at '/replicas': got string, want integer"},
		{[]string{"--set", "replicas=0"}, "at '/replicas': minimum: got 0, want 1"},
		{[]string{"--set", "kafka.compresion=lz4"}, "at '/kafka': additional properties 'compresion' not allowed"},
		{[]string{"--set", "kafka.compression=brotli"}, "at '/kafka/compression': value must be one of"},
		{[]string{"--set", "kafka.acks=none"}, "at '/kafka/acks': value must be one of"},
		{[]string{"--set", "kafka.brokers=kafka:9092"}, "at '/kafka/brokers': got string, want array"},
		{[]string{"--set", "kafka.brokers[0]=kafka"}, "at '/kafka/brokers/0'"},
		{[]string{"--set", "kafka.tls=yes"}, "at '/kafka/tls': got string, want boolean"},
		{[]string{"--set", "kafka.saslMechanism=GSSAPI"}, "at '/kafka/saslMechanism': value must be one of"},
		{[]string{"-f", valuesFile(t, "kafka: {topic: 'logs.{ns}'}")}, "at '/kafka/topic'"},
		{[]string{"--set", "webhook.failurePolicy=ignore"}, "at '/webhook/failurePolicy': value must be one of 'Ignore', 'Fail'"},
		{[]string{"--set", "webhook.timeoutSeconds=60"}, "at '/webhook/timeoutSeconds': maximum"},
		{[]string{"--set", "sidecar.resources.requests.cpu=fast"}, "at '/sidecar/resources/requests/cpu'"},
		{[]string{"--set", "sidecar.mode=Native"}, "at '/sidecar/mode'"},
		{[]string{"--set", "image.pullPolicy=always"}, "at '/image/pullPolicy'"},
		{[]string{"--set", "podDisruptionBudget.minAvailable=half"}, "at '/podDisruptionBudget/minAvailable'"},
		{[]string{"--set", "certificates.source=vault"}, "at '/certificates/source': value must be one of 'auto', 'cert-manager', 'helm'"},
		{[]string{"--set", "selection.pods=false,selection.namespaces=false"}, "selection.pods and selection.namespaces are both false"},
		{[]string{"--set", "kafka.secret="}, "kafka.saslMechanism needs kafka.secret"},
		{[]string{"--set", "kafka.clientCert=true,kafka.tls=false"}, "kafka.clientCert needs kafka.secret"},
	} {
		_, err := helm(t, append([]string{"template", "loglet", chartDir}, tt.args...)...)
		if err == nil {
			t.Errorf("%v: rendered; want refused with %q", tt.args, tt.msg)
			continue
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%v: %v\nwant a message with %q", tt.args, err, tt.msg)
		}
	}
}

// processSettings are loglet-injector's variables about the process, not
// the sidecars: the chart sets the address and certificate files through
// its Deployment's defaults and leaves the shutdown timing to extraEnv.
var processSettings = []string{"ADDR", "TLS_CERT_FILE", "TLS_KEY_FILE", "SHUTDOWN_TIMEOUT", "SHUTDOWN_DELAY"}

// TestChartSetsEveryInjectorSetting: each LOGLET_INJECTOR_ variable that
// `loglet-injector -h` lists (but processSettings) is set by fullValues, so
// a setting added to the injector without a chart value fails here; and the
// real injector accepts the environment the chart renders.
func TestChartSetsEveryInjectorSetting(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "loglet-injector")
	run(t, repoRoot, "go", "build", "-o", bin, "./sidecar/cmd/loglet-injector")
	help, err := exec.Command(bin, "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("loglet-injector -h: %v\n%s", err, help)
	}
	var vars []string
	sc := bufio.NewScanner(bytes.NewReader(help))
	for sc.Scan() {
		if name, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "LOGLET_INJECTOR_"); ok && !slices.Contains(processSettings, name) {
			vars = append(vars, "LOGLET_INJECTOR_"+name)
		}
	}
	if len(vars) < 20 {
		t.Fatalf("only %d settings in loglet-injector -h:\n%s", len(vars), help)
	}
	env := injectorEnv(t, render(t, "-f", valuesFile(t, fullValues)))
	for _, v := range vars {
		if _, ok := env[v]; !ok {
			t.Errorf("no chart value sets %s", v)
		}
	}

	// The injector validates its settings before it reads its certificate:
	// with none there, status 1 (a certificate error) means the settings
	// passed, and 2 that they did not.
	for name, objs := range map[string][]object{"defaults": render(t), "every value set": render(t, "-f", valuesFile(t, fullValues))} {
		cmd := exec.Command(bin)
		cmd.Env = []string{"LOGLET_INJECTOR_ADDR=127.0.0.1:0", "LOGLET_INJECTOR_TLS_CERT_FILE=" + filepath.Join(t.TempDir(), "none.crt"),
			"LOGLET_INJECTOR_TLS_KEY_FILE=" + filepath.Join(t.TempDir(), "none.key")}
		for k, v := range injectorEnv(t, objs) {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "none.crt") {
			t.Errorf("%s: loglet-injector with the chart's environment: %v, want status 1 for the missing certificate:\n%s", name, err, out)
		}
	}
}
