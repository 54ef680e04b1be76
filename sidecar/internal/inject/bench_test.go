package inject

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// BenchmarkMutate is the pure mutation of a two-container pod with every
// per-pod annotation.
func BenchmarkMutate(b *testing.B) {
	pod := readPod(b, filepath.Join("testdata", "golden", "annotations.in.yaml"))
	b.ReportAllocs()
	for b.Loop() {
		if _, o, err := Mutate(pod, Settings{}); err != nil || o != Injected {
			b.Fatal(o, err)
		}
	}
}

// BenchmarkHandler is a whole admission review: decode, mutate, diff,
// encode (without the network).
func BenchmarkHandler(b *testing.B) {
	body := reviewFor(b, podJSON(b, "annotations.in.yaml"), nil)
	h := &Handler{}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
