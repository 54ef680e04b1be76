package inject

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxBodyBytes is the largest AdmissionReview [Handler] reads. The API
// server's own request limit is 3 MiB, and an object in etcd at most
// 1.5 MiB; a review carries the object once for CREATE.
const MaxBodyBytes = 3 << 20

// Handler serves admission.k8s.io/v1 AdmissionReview requests for pods: it
// runs [Mutate] and answers with the JSON Patch from the pod as sent to the
// pod as mutated. It admits a pod that cannot be injected unchanged, with a
// warning in the response and a log line. It denies (allowed: false, code
// 403, the reason in the message) only a pod that asks for what breaks
// isolation: a topic outside its namespace ([Denied]). A request that is not
// a well-formed review gets an HTTP error.
//
// A Handler is safe for concurrent use; do not change its fields after the
// first request.
type Handler struct {
	// Settings are the cluster defaults, checked by Settings.Validate
	// before the handler serves.
	Settings Settings
	// Logger receives a line for every pod not injected because of an
	// error (an event worth an operator's attention). Nil discards.
	Logger *slog.Logger
	// Metrics counts reviews by outcome. Nil counts nothing.
	Metrics *Metrics
}

// Metrics are the injector's Prometheus metrics. Create them with
// [NewMetrics]; the methods are safe for concurrent use.
type Metrics struct {
	reviews  *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg:
// loglet_injector_reviews_total{outcome} and
// loglet_injector_review_duration_seconds.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loglet_injector_reviews_total",
			Help: "Admission reviews by outcome: injected, already_injected, opted_out, failed (admitted unchanged), denied (refused: a topic outside the pod's namespace), ignored (not a pod creation), bad_request.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loglet_injector_review_duration_seconds",
			Help:    "Time to answer an admission review.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
	}
	for _, c := range []prometheus.Collector{m.reviews, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	for _, o := range []string{string(Injected), string(AlreadyInjected), string(OptedOut), string(Failed), string(Denied), outcomeIgnored, outcomeBadRequest} {
		m.reviews.WithLabelValues(o)
	}
	return m, nil
}

const (
	outcomeIgnored    = "ignored"
	outcomeBadRequest = "bad_request"
)

func (m *Metrics) observe(outcome string, start time.Time) {
	if m == nil {
		return
	}
	m.reviews.WithLabelValues(outcome).Inc()
	m.duration.Observe(time.Since(start).Seconds())
}

var (
	podResource  = metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	reviewGVK    = admissionv1.SchemeGroupVersion.WithKind("AdmissionReview")
	jsonPatch    = admissionv1.PatchTypeJSONPatch
	errBadReview = errors.New("bad admission review")
)

// ServeHTTP answers one AdmissionReview.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, start, http.StatusMethodNotAllowed, fmt.Errorf("method %s: want POST", r.Method))
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		h.fail(w, start, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: want application/json", r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		code := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			code = http.StatusRequestEntityTooLarge
		}
		h.fail(w, start, code, fmt.Errorf("read body: %w", err))
		return
	}
	review, err := decodeReview(body)
	if err != nil {
		h.fail(w, start, http.StatusBadRequest, err)
		return
	}
	resp, outcome := h.review(review.Request)
	review.Response = resp
	review.Request = nil
	out, err := json.Marshal(review)
	if err != nil { // cannot happen with these types; still answer
		h.fail(w, start, http.StatusInternalServerError, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
	h.Metrics.observe(outcome, start)
}

func decodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty body", errBadReview)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadReview, err)
	}
	if gvk := review.GroupVersionKind(); gvk != reviewGVK {
		return nil, fmt.Errorf("%w: %s, %s: want %s, %s (admissionReviewVersions: [v1])",
			errBadReview, review.APIVersion, review.Kind, reviewGVK.GroupVersion(), reviewGVK.Kind)
	}
	if review.Request == nil {
		return nil, fmt.Errorf("%w: no request", errBadReview)
	}
	if review.Request.UID == "" {
		return nil, fmt.Errorf("%w: request has no uid", errBadReview)
	}
	return &review, nil
}

// review answers a well-formed request. It admits every pod but a Denied
// one.
func (h *Handler) review(req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, string) {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Resource != podResource || req.SubResource != "" || req.Operation != admissionv1.Create {
		return resp, outcomeIgnored
	}
	log := h.logger().With("namespace", req.Namespace, "uid", req.UID)
	warn := func(err error) {
		resp.Warnings = []string{"loglet sidecar not injected: " + err.Error()}
		log.Warn("pod admitted without the loglet sidecar", "event", "LogletInjectionFailed", "err", err)
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		warn(fmt.Errorf("decode pod: %w", err))
		return resp, string(Failed)
	}
	log = log.With("pod", podName(&pod))
	mutated, outcome, err := Mutate(&pod, h.Settings)
	if outcome == Denied {
		msg := fmt.Sprintf("loglet-injector denies the pod in namespace %s: %v", req.Namespace, err)
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: msg}
		log.Warn("pod denied", "event", "LogletInjectionDenied", "err", err)
		return resp, string(outcome)
	}
	if err != nil {
		warn(err)
		return resp, string(outcome)
	}
	if outcome != Injected {
		return resp, string(outcome)
	}
	patch, err := diff(&pod, mutated)
	if err != nil {
		warn(err)
		return resp, string(Failed)
	}
	resp.Patch = patch
	resp.PatchType = &jsonPatch
	log.Debug("injected the loglet sidecar")
	return resp, string(outcome)
}

// diff is the JSON Patch that turns the encoding of from into that of to.
// Both sides are encoded from the same types, so fields this injector does
// not know (from a newer API) are never touched.
func diff(from, to *corev1.Pod) ([]byte, error) {
	a, err := json.Marshal(from)
	if err != nil {
		return nil, fmt.Errorf("encode pod: %w", err)
	}
	b, err := json.Marshal(to)
	if err != nil {
		return nil, fmt.Errorf("encode mutated pod: %w", err)
	}
	ops, err := jsonpatch.CreatePatch(a, b)
	if err != nil {
		return nil, fmt.Errorf("create patch: %w", err)
	}
	return json.Marshal(ops)
}

func podName(p *corev1.Pod) string {
	if p.Name != "" {
		return p.Name
	}
	return p.GenerateName + "*"
}

func (h *Handler) fail(w http.ResponseWriter, start time.Time, code int, err error) {
	h.logger().Warn("bad admission request", "status", code, "err", err)
	http.Error(w, err.Error(), code)
	h.Metrics.observe(outcomeBadRequest, start)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
