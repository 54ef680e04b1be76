package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/yaml"

	"github.com/loglet/loglet/sidecar/internal/inject"
)

const manifestsDir = "../../../manifests"

// externalKinds are kinds from outside Kubernetes' own API, whose Go types
// are not linked here. The end-to-end test (integration/k8s) installs
// cert-manager's CustomResourceDefinitions and has the real API server
// validate these objects strictly; integration/monitoring decodes the
// Prometheus Operator's kinds strictly into the Operator's own Go types.
var externalKinds = map[schema.GroupVersionKind]bool{
	{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"}:               true,
	{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"}:          true,
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PodMonitor"}:     true,
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}: true,
}

// strictDecoder decodes YAML into the Kubernetes API types, failing on
// unknown and duplicate fields.
func strictDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme, admissionregistrationv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
}

// kustomization is the part of kustomize's Kustomization these manifests
// use; decoding into it strictly catches anything else.
type kustomization struct {
	APIVersion         string   `json:"apiVersion"`
	Kind               string   `json:"kind"`
	Resources          []string `json:"resources"`
	ConfigMapGenerator []struct {
		Name      string   `json:"name"`
		Namespace string   `json:"namespace"`
		Files     []string `json:"files"`
		Options   struct {
			DisableNameSuffixHash bool              `json:"disableNameSuffixHash"`
			Labels                map[string]string `json:"labels"`
		} `json:"options"`
	} `json:"configMapGenerator"`
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// manifest is one decoded YAML document.
type manifest struct {
	file string
	obj  runtime.Object // nil for an external kind
	gvk  schema.GroupVersionKind
}

// readManifests decodes every YAML document under manifests/ strictly, and
// checks that each kustomization lists every other YAML file of its
// directory (so `kubectl apply -k` applies everything shown here).
func readManifests(t *testing.T) []manifest {
	t.Helper()
	dec := strictDecoder(t)
	var out []manifest
	listed := map[string]bool{}
	var yamls []string
	err := filepath.WalkDir(manifestsDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && path == filepath.Join(manifestsDir, "charts") {
			return fs.SkipDir // Helm templates; integration/k8s/e2e renders and checks them
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(manifestsDir, path)
		if d.Name() == "kustomization.yaml" {
			var k kustomization
			if err := yaml.UnmarshalStrict(data, &k); err != nil {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
			if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" || len(k.Resources) == 0 {
				t.Errorf("%s: not a kustomize.config.k8s.io/v1beta1 Kustomization with resources", rel)
			}
			for _, r := range k.Resources {
				p := filepath.Join(filepath.Dir(path), r)
				if _, err := os.Stat(p); err != nil {
					t.Errorf("%s: resource %s: %v", rel, r, err)
				}
				listed[filepath.Clean(p)] = true
			}
			for _, g := range k.ConfigMapGenerator {
				for _, f := range g.Files {
					_, src, _ := strings.Cut(f, "=") // key=file, or file alone
					if src == "" {
						src = f
					}
					if _, err := os.Stat(filepath.Join(filepath.Dir(path), src)); err != nil {
						t.Errorf("%s: configMapGenerator %s: %v", rel, g.Name, err)
					}
				}
			}
			return nil
		}
		yamls = append(yamls, path)
		for i, doc := range docSeparator.Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			obj, gvk, err := dec.Decode([]byte(doc), nil, nil)
			if gvk != nil && externalKinds[*gvk] && runtime.IsNotRegisteredError(err) {
				out = append(out, manifest{file: rel, gvk: *gvk})
				continue
			}
			if err != nil {
				t.Errorf("%s, document %d: %v", rel, i+1, err)
				continue
			}
			out = append(out, manifest{file: rel, obj: obj, gvk: *gvk})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, y := range yamls {
		if !listed[filepath.Clean(y)] {
			t.Errorf("%s is in no kustomization.yaml", y)
		}
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

func TestManifestsDecodeStrictly(t *testing.T) {
	ms := readManifests(t)
	var got []string
	for _, m := range ms {
		got = append(got, m.file+" "+m.gvk.Kind)
	}
	// Every file and kind, so that a manifest that stops decoding (or is
	// added without being checked) shows here.
	want := []string{
		"alerter/deployment.yaml Deployment",
		"alerter/namespace.yaml Namespace",
		"alerter/serviceaccount.yaml ServiceAccount",
		"hostpath/deployment.yaml Deployment",
		"injector/certificate.yaml Issuer",
		"injector/certificate.yaml Certificate",
		"injector/deployment.yaml Deployment",
		"injector/example/deployment.yaml Deployment",
		"injector/example/namespace.yaml Namespace",
		"injector/mutatingwebhookconfiguration.yaml MutatingWebhookConfiguration",
		"injector/namespace.yaml Namespace",
		"injector/poddisruptionbudget.yaml PodDisruptionBudget",
		"injector/service.yaml Service",
		"injector/serviceaccount.yaml ServiceAccount",
		"monitoring/podmonitor.yaml PodMonitor",
		"monitoring/prometheusrule.yaml PrometheusRule",
		"sidecar/deployment.yaml Deployment",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded manifests (-want +got):\n%s", diff)
	}
}

// TestStrictDecoderRejectsUnknownFields makes sure the check above can fail.
func TestStrictDecoderRejectsUnknownFields(t *testing.T) {
	dec := strictDecoder(t)
	for _, doc := range []string{
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectr: {}}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 1, replicas: 2}\n",
		"apiVersion: v1\nkind: Nonsense\nmetadata: {name: x}\n",
	} {
		if _, _, err := dec.Decode([]byte(doc), nil, nil); err == nil {
			t.Errorf("decoded without error:\n%s", doc)
		}
	}
}

func find[T runtime.Object](t *testing.T, ms []manifest, file string) T {
	t.Helper()
	for _, m := range ms {
		if o, ok := m.obj.(T); ok && m.file == file {
			return o
		}
	}
	var zero T
	t.Fatalf("no %T in %s", zero, file)
	return zero
}

// TestInjectedExampleEqualsHandWritten: the pod the injector, configured as
// manifests/injector deploys it, makes from the example Deployment's
// template equals the hand-written sidecar manifest's pod template, field
// for field.
func TestInjectedExampleEqualsHandWritten(t *testing.T) {
	ms := readManifests(t)
	injector := find[*appsv1.Deployment](t, ms, "injector/deployment.yaml")
	example := find[*appsv1.Deployment](t, ms, "injector/example/deployment.yaml")
	handWritten := find[*appsv1.Deployment](t, ms, "sidecar/deployment.yaml")

	environ := map[string]string{}
	for _, e := range injector.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil {
			t.Fatalf("injector env %s is not a literal value; this test reads literals", e.Name)
		}
		environ[e.Name] = e.Value
	}
	cfg, err := loadConfig(environ)
	if err != nil {
		t.Fatalf("the injector's environment in manifests/injector/deployment.yaml: %v", err)
	}

	pod := &corev1.Pod{ObjectMeta: example.Spec.Template.ObjectMeta, Spec: example.Spec.Template.Spec}
	got, outcome, err := inject.Mutate(pod, cfg.Settings)
	if err != nil || outcome != inject.Injected {
		t.Fatalf("Mutate: %s, %v", outcome, err)
	}
	want := &corev1.Pod{ObjectMeta: handWritten.Spec.Template.ObjectMeta, Spec: handWritten.Spec.Template.Spec}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("manifests/sidecar differs from the injected manifests/injector/example (-hand-written +injected):\n%s", diff)
	}

	// The rest of the two Deployments match too, apart from the namespace.
	a, b := example.DeepCopy(), handWritten.DeepCopy()
	a.Namespace, a.Spec.Template, b.Spec.Template = "", corev1.PodTemplateSpec{}, corev1.PodTemplateSpec{}
	if diff := cmp.Diff(b, a); diff != "" {
		t.Errorf("the Deployments differ outside the pod template (-hand-written +example):\n%s", diff)
	}

	// The hand-written pod would be left alone by an installed injector.
	again, outcome, err := inject.Mutate(want, cfg.Settings)
	if err != nil || outcome != inject.AlreadyInjected || !cmp.Equal(want, again) {
		t.Errorf("the injector would change the hand-written pod: %s, %v", outcome, err)
	}
}

// TestWebhookConfiguration checks what the webhook configuration promises
// and a strict decoding cannot check: v1 reviews only, no side effects, a short timeout, and
// the injector's own namespace and the system namespaces excluded.
func TestWebhookConfiguration(t *testing.T) {
	ms := readManifests(t)
	cfg := find[*admissionregistrationv1.MutatingWebhookConfiguration](t, ms, "injector/mutatingwebhookconfiguration.yaml")
	if len(cfg.Webhooks) != 2 {
		t.Fatalf("%d webhooks, want 2 (pod label, namespace label)", len(cfg.Webhooks))
	}
	if cfg.Annotations["cert-manager.io/inject-ca-from"] != "loglet-system/loglet-injector" {
		t.Errorf("cert-manager.io/inject-ca-from = %q", cfg.Annotations["cert-manager.io/inject-ca-from"])
	}
	for _, w := range cfg.Webhooks {
		if !slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) ||
			w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNone ||
			w.TimeoutSeconds == nil || *w.TimeoutSeconds > 10 ||
			w.FailurePolicy == nil || w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
			t.Errorf("webhook %s: %+v", w.Name, w)
		}
		excluded := false
		for _, e := range w.NamespaceSelector.MatchExpressions {
			if e.Key == "kubernetes.io/metadata.name" && e.Operator == "NotIn" &&
				slices.Contains(e.Values, "loglet-system") && slices.Contains(e.Values, "kube-system") && slices.Contains(e.Values, "kube-public") {
				excluded = true
			}
		}
		if !excluded {
			t.Errorf("webhook %s does not exclude loglet-system, kube-system and kube-public", w.Name)
		}
		svc := w.ClientConfig.Service
		if svc == nil || svc.Name != "loglet-injector" || svc.Namespace != "loglet-system" || svc.Path == nil || *svc.Path != "/mutate" {
			t.Errorf("webhook %s client config %+v", w.Name, w.ClientConfig)
		}
	}
}
