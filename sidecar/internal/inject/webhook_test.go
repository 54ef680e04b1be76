package inject

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	jsonpatch "gopkg.in/evanphx/json-patch.v4" // the library the API server applies webhook patches with
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

type webhookFixture struct {
	srv     *httptest.Server
	metrics *Metrics
	logs    *bytes.Buffer
}

func newWebhook(t *testing.T, s Settings) *webhookFixture {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	h := &Handler{Settings: s, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: m}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &webhookFixture{srv: srv, metrics: m, logs: logs}
}

func (f *webhookFixture) count(outcome string) float64 {
	var m dto.Metric
	if err := f.metrics.reviews.WithLabelValues(outcome).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func reviewFor(t testing.TB, raw []byte, mod func(*admissionv1.AdmissionRequest)) []byte {
	t.Helper()
	req := &admissionv1.AdmissionRequest{
		UID:       "0b5b6a2e-2f57-4d2e-9a43-3b8c1f1f0a01",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: "shop",
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}
	if mod != nil {
		mod(req)
	}
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  req,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends a review, checks that the pod is admitted and returns the
// response.
func (f *webhookFixture) post(t *testing.T, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	resp := f.send(t, body)
	if !resp.Allowed {
		t.Errorf("pod not allowed: %+v", resp)
	}
	return resp
}

// send sends a review and returns the response, allowed or not.
func (f *webhookFixture) send(t *testing.T, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	resp, err := http.Post(f.srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s: %s", resp.Status, data)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &review); err != nil {
		t.Fatalf("decode response: %v\n%s", err, data)
	}
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" || review.Response == nil || review.Request != nil {
		t.Fatalf("response is not a v1 AdmissionReview with only a response: %s", data)
	}
	if review.Response.UID != "0b5b6a2e-2f57-4d2e-9a43-3b8c1f1f0a01" {
		t.Errorf("response uid %q does not echo the request's", review.Response.UID)
	}
	return review.Response
}

func podJSON(t testing.TB, name string) []byte {
	t.Helper()
	b, err := json.Marshal(readPod(t, filepath.Join("testdata", "golden", name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHandlerPatchGivesGolden applies the response's patch the way the API
// server does and checks that the result is the golden pod, and that a
// field this injector's API types do not know survives.
func TestHandlerPatchGivesGolden(t *testing.T) {
	for _, name := range []string{"minimal", "annotations", "container-mode"} {
		t.Run(name, func(t *testing.T) {
			f := newWebhook(t, Settings{})
			raw := podJSON(t, name+".in.yaml")
			// A field from a newer API version, unknown to k8s.io/api here.
			raw = bytes.Replace(raw, []byte(`"spec":{`), []byte(`"spec":{"futureField":{"x":1},`), 1)
			resp := f.post(t, reviewFor(t, raw, nil))
			if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch || len(resp.Patch) == 0 {
				t.Fatalf("no JSON patch in %+v", resp)
			}
			if len(resp.Warnings) != 0 {
				t.Errorf("warnings %q", resp.Warnings)
			}
			patch, err := jsonpatch.DecodePatch(resp.Patch)
			if err != nil {
				t.Fatalf("decode patch: %v\n%s", err, resp.Patch)
			}
			patched, err := patch.Apply(raw)
			if err != nil {
				t.Fatalf("apply patch: %v\n%s", err, resp.Patch)
			}
			if !bytes.Contains(patched, []byte(`"futureField":{"x":1}`)) {
				t.Errorf("patch lost a field it does not know:\n%s", patched)
			}
			var got corev1.Pod
			if err := json.Unmarshal(patched, &got); err != nil {
				t.Fatal(err)
			}
			want := readPod(t, filepath.Join("testdata", "golden", name+".out.yaml"))
			if diff := cmp.Diff(want, &got); diff != "" {
				t.Errorf("patched pod differs from the golden file (-want +got):\n%s", diff)
			}
			if n := f.count(string(Injected)); n != 1 {
				t.Errorf("injected count %v, want 1", n)
			}

			// Reinvocation (reinvocationPolicy: IfNeeded) sees the patched
			// pod and must answer with no patch at all.
			resp = f.post(t, reviewFor(t, patched, nil))
			if resp.Patch != nil || resp.PatchType != nil {
				t.Errorf("reinvocation got a patch: %s", resp.Patch)
			}
			if n := f.count(string(AlreadyInjected)); n != 1 {
				t.Errorf("already_injected count %v, want 1", n)
			}
		})
	}
}

func TestHandlerAdmitsUnchanged(t *testing.T) {
	minimal := podJSON(t, "minimal.in.yaml")
	tests := []struct {
		name    string
		body    []byte
		outcome string
		warning string // a part of the one expected warning; empty: none
	}{
		{"update", reviewFor(t, minimal, func(r *admissionv1.AdmissionRequest) { r.Operation = admissionv1.Update }), outcomeIgnored, ""},
		{"not a pod", reviewFor(t, []byte(`{"kind":"ConfigMap"}`), func(r *admissionv1.AdmissionRequest) {
			r.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
			r.Resource = metav1.GroupVersionResource{Version: "v1", Resource: "configmaps"}
		}), outcomeIgnored, ""},
		{"pod subresource", reviewFor(t, minimal, func(r *admissionv1.AdmissionRequest) { r.SubResource = "binding" }), outcomeIgnored, ""},
		{"opted out", reviewFor(t, bytes.Replace(minimal, []byte(`"labels":`), []byte(`"annotations":{"loglet.dev/inject":"false"},"labels":`), 1), nil), string(OptedOut), ""},
		{"bad annotation", reviewFor(t, bytes.Replace(minimal, []byte(`"labels":`), []byte(`"annotations":{"loglet.dev/log-dir":"logs"},"labels":`), 1), nil), string(Failed), "loglet.dev/log-dir"},
		{"log dir over /etc", reviewFor(t, bytes.Replace(minimal, []byte(`"labels":`), []byte(`"annotations":{"loglet.dev/log-dir":"/etc"},"labels":`), 1), nil), string(Failed), "would hide the app image's /etc"},
		{"log dir over /usr/lib", reviewFor(t, bytes.Replace(minimal, []byte(`"labels":`), []byte(`"annotations":{"loglet.dev/log-dir":"/usr/lib/app"},"labels":`), 1), nil), string(Failed), "would hide the app image's /usr"},
		{"undecodable pod", reviewFor(t, []byte(`{"spec":{"containers":"web"}}`), nil), string(Failed), "decode pod"},
		{"empty pod object", reviewFor(t, nil, nil), string(Failed), "decode pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWebhook(t, Settings{})
			resp := f.post(t, tt.body)
			if resp.Patch != nil || resp.PatchType != nil {
				t.Errorf("got a patch: %s", resp.Patch)
			}
			if n := f.count(tt.outcome); n != 1 {
				t.Errorf("%s count %v, want 1", tt.outcome, n)
			}
			if tt.warning == "" {
				if len(resp.Warnings) != 0 || f.logs.Len() != 0 {
					t.Errorf("warnings %q, log %s", resp.Warnings, f.logs)
				}
				return
			}
			if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], tt.warning) {
				t.Errorf("warnings %q, want one mentioning %q", resp.Warnings, tt.warning)
			}
			var line map[string]any
			if err := json.Unmarshal(f.logs.Bytes(), &line); err != nil {
				t.Fatalf("want one JSON log line, got %q: %v", f.logs, err)
			}
			if line["level"] != "WARN" || line["event"] != "LogletInjectionFailed" || !strings.Contains(line["err"].(string), tt.warning) {
				t.Errorf("log line %v", line)
			}
		})
	}
}

func TestHandlerBadRequests(t *testing.T) {
	valid := reviewFor(t, podJSON(t, "minimal.in.yaml"), nil)
	tests := []struct {
		name        string
		method      string
		contentType string
		body        []byte
		status      int
		msg         string
	}{
		{"GET", http.MethodGet, "application/json", nil, http.StatusMethodNotAllowed, "want POST"},
		{"no content type", http.MethodPost, "", valid, http.StatusUnsupportedMediaType, "want application/json"},
		{"wrong content type", http.MethodPost, "application/yaml", valid, http.StatusUnsupportedMediaType, "want application/json"},
		{"json with charset is fine but body empty", http.MethodPost, "application/json; charset=utf-8", nil, http.StatusBadRequest, "empty body"},
		{"malformed", http.MethodPost, "application/json", []byte(`{"apiVersion":`), http.StatusBadRequest, "bad admission review"},
		{"not an object", http.MethodPost, "application/json", []byte(`[1,2]`), http.StatusBadRequest, "bad admission review"},
		{"v1beta1", http.MethodPost, "application/json", bytes.Replace(valid, []byte(`admission.k8s.io/v1"`), []byte(`admission.k8s.io/v1beta1"`), 1), http.StatusBadRequest, "admission.k8s.io/v1beta1"},
		{"other kind", http.MethodPost, "application/json", bytes.Replace(valid, []byte(`"AdmissionReview"`), []byte(`"TokenReview"`), 1), http.StatusBadRequest, "TokenReview"},
		{"no request", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest, "no request"},
		{"no uid", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}`), http.StatusBadRequest, "no uid"},
		{"too large", http.MethodPost, "application/json", append(append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), MaxBodyBytes)...), `"}`...), http.StatusRequestEntityTooLarge, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWebhook(t, Settings{})
			req, err := http.NewRequest(tt.method, f.srv.URL, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(data), tt.msg) {
				t.Errorf("got %s %q; want %d mentioning %q", resp.Status, data, tt.status, tt.msg)
			}
			if n := f.count(outcomeBadRequest); n != 1 {
				t.Errorf("bad_request count %v, want 1", n)
			}
		})
	}
}

// TestHandlerDeniesTopicOutsideNamespace: a pod in team-a that asks for
// team-b's topic is refused: allowed false, 403 and a message that names
// the namespace, the annotation, the rule and the setting that would allow
// it; no patch; counted as denied; one log line.
func TestHandlerDeniesTopicOutsideNamespace(t *testing.T) {
	f := newWebhook(t, Settings{})
	raw := podJSON(t, "refuse-topic.in.yaml")
	resp := f.send(t, reviewFor(t, raw, func(r *admissionv1.AdmissionRequest) { r.Namespace = "team-a" }))
	if resp.Allowed {
		t.Fatalf("pod allowed: %+v", resp)
	}
	if resp.Patch != nil || resp.PatchType != nil {
		t.Errorf("a denied pod got a patch: %s", resp.Patch)
	}
	if resp.Result == nil || resp.Result.Code != http.StatusForbidden || resp.Result.Reason != metav1.StatusReasonForbidden {
		t.Fatalf("result %+v, want 403 Forbidden", resp.Result)
	}
	for _, part := range []string{"namespace team-a", `loglet.dev/topic: topic outside the pod's namespace: "logs.team-b"`, "WORD.{namespace}", "LOGLET_INJECTOR_SHARED_TOPIC_PREFIXES"} {
		if !strings.Contains(resp.Result.Message, part) {
			t.Errorf("message %q does not mention %q", resp.Result.Message, part)
		}
	}
	if n := f.count(string(Denied)); n != 1 {
		t.Errorf("denied count %v, want 1", n)
	}
	var line map[string]any
	if err := json.Unmarshal(f.logs.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON log line, got %q: %v", f.logs, err)
	}
	if line["level"] != "WARN" || line["event"] != "LogletInjectionDenied" || line["namespace"] != "team-a" {
		t.Errorf("log line %v", line)
	}

	// With the cluster's permission the same pod is injected.
	f = newWebhook(t, Settings{AllowAnyTopic: true})
	if resp := f.post(t, reviewFor(t, raw, nil)); len(resp.Patch) == 0 {
		t.Errorf("no patch with AllowAnyTopic: %+v", resp)
	}
}

// TestHandlerRefusalsGolden: the admission responses for refused pods, as
// the API server receives them, are the golden files: a denial for a topic
// outside the namespace, and an admission unchanged with a warning for a
// log directory that would hide the app's files.
func TestHandlerRefusalsGolden(t *testing.T) {
	for _, name := range []string{"refuse-topic", "refuse-log-dir-etc", "refuse-log-dir-over-mount"} {
		t.Run(name, func(t *testing.T) {
			f := newWebhook(t, Settings{})
			pod := readPod(t, filepath.Join("testdata", "golden", name+".in.yaml"))
			raw, err := json.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			got := f.send(t, reviewFor(t, raw, func(r *admissionv1.AdmissionRequest) { r.Namespace = pod.Namespace }))
			goldenPath := filepath.Join("testdata", "golden", name+".out.yaml")
			if *update {
				out, err := yaml.Marshal(got)
				if err != nil {
					t.Fatal(err)
				}
				header := "# Generated by `go test ./sidecar/internal/inject -run TestHandlerRefusalsGolden -update`\n# from " + name + ".in.yaml: the AdmissionResponse; review every change.\n"
				if err := os.WriteFile(goldenPath, append([]byte(header), out...), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatal(err)
			}
			var want admissionv1.AdmissionResponse
			if err := yaml.UnmarshalStrict(data, &want); err != nil {
				t.Fatalf("%s: %v", goldenPath, err)
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("response differs from %s (-want +got; rerun with -update if the change is intended):\n%s", goldenPath, diff)
			}
		})
	}
}
