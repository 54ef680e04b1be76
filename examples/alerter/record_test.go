package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecordReason(t *testing.T) {
	tests := []struct {
		level, msg string
		want       string
	}{
		{"info", "sample log", ""},
		{"warning", "slow request", ""},
		{"debug", "", ""},
		{"error", "request failed", "level error"},
		{"ERROR", "request failed", "level error"},
		{" Fatal ", "cannot start", "level fatal"},
		{"panic", "boom", "level panic"},
		{"critical", "disk full", "level critical"},
		{"err", "x", "level err"},
		{"info", "java.lang.NullPointerException at Foo.bar", "mentions an exception"},
		{"", "Unhandled EXCEPTION in worker", "mentions an exception"},
		{"warn", "goroutine 7 panicked: index out of range", "mentions a panic"},
		{"info", "panic: runtime error", "mentions a panic"},
		{"info", "exceptional day, no panics", "mentions an exception"},
		{"information", "errors: 0", ""},
	}
	for _, tt := range tests {
		r := record{Level: tt.level, Msg: tt.msg}
		if got := r.reason(); got != tt.want {
			t.Errorf("record{Level: %q, Msg: %q}.reason() = %q, want %q", tt.level, tt.msg, got, tt.want)
		}
	}
}

func TestDecodeRecord(t *testing.T) {
	r, err := decodeRecord([]byte(`{"@timestamp":"2020-03-02T09:22:24Z","level":"error","msg":"db down","fields":{"count":3,"error":"dial tcp: refused"},"kubernetes":{"pod_name":"cart-7d9f","namespace_name":"shop","pod_id":"u1","host":"node-1","container_name":"cart","labels":{"app":"cart"}},"log":{"file":"cart-7d9f.log","offset":10,"format":"json"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := record{Timestamp: "2020-03-02T09:22:24Z", Level: "error", Msg: "db down", Fields: map[string]any{"count": 3.0, "error": "dial tcp: refused"}}
	want.Kubernetes.PodName, want.Kubernetes.NamespaceName, want.Kubernetes.ContainerName, want.Kubernetes.Host = "cart-7d9f", "shop", "cart", "node-1"
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("decodeRecord (-want +got):\n%s", diff)
	}

	for _, bad := range []string{``, `not json`, `[1,2]`, `{}`, `{"level":3}`, `{"msg":"x"`, `"error"`} {
		if r, err := decodeRecord([]byte(bad)); err == nil {
			t.Errorf("decodeRecord(%q) = %+v, want an error", bad, r)
		}
	}
}

func TestAlertText(t *testing.T) {
	full := record{Timestamp: "2020-03-02T09:22:24Z", Level: "error", Msg: "db down", Fields: map[string]any{"error": "dial <tcp>: refused"}}
	full.Kubernetes.PodName, full.Kubernetes.NamespaceName, full.Kubernetes.ContainerName, full.Kubernetes.Host = "cart-7d9f", "shop", "cart", "node-1"
	src := source{Topic: "logs.shop", Partition: 2, Offset: 41}

	exception := full
	exception.Level, exception.Msg, exception.Fields = "info", "Exception in thread \"main\" ```x``` & <y>\n\tat Main.main(Main.java:3)", nil

	bare := record{Msg: "panic: nil map"}

	tests := []struct {
		name       string
		r          record
		suppressed int
		want       string
	}{
		{"level", full, 0, ":rotating_light: *ERROR* in pod `cart-7d9f` (namespace `shop`, container `cart`, node `node-1`)\n" +
			"```\ndb down\n```\n" +
			"error: `dial &lt;tcp&gt;: refused`\n" +
			"2020-03-02T09:22:24Z · logs.shop partition 2 offset 41"},
		{"suppressed", full, 3, ":rotating_light: *ERROR* in pod `cart-7d9f` (namespace `shop`, container `cart`, node `node-1`)\n" +
			"```\ndb down\n```\n" +
			"error: `dial &lt;tcp&gt;: refused`\n" +
			"2020-03-02T09:22:24Z · logs.shop partition 2 offset 41\n" +
			"_3 earlier alert(s) from this pod were not sent (rate limit)._"},
		{"exception", exception, 0, ":rotating_light: *INFO* in pod `cart-7d9f` (namespace `shop`, container `cart`, node `node-1`): message mentions an exception\n" +
			"```\nException in thread \"main\" '''x''' &amp; &lt;y&gt;\n\tat Main.main(Main.java:3)\n```\n" +
			"2020-03-02T09:22:24Z · logs.shop partition 2 offset 41"},
		{"no metadata", bare, 0, ":rotating_light: *LOG* in pod `?` (namespace `?`, container `?`, node `?`): message mentions a panic\n" +
			"```\npanic: nil map\n```\n" +
			"no time · logs.shop partition 2 offset 41"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := alertText(tt.r, tt.r.reason(), src, tt.suppressed)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("alertText (-want +got):\n%s", diff)
			}
		})
	}

	long := full
	long.Msg = strings.Repeat("é", maxQuoted+10)
	got := alertText(long, "level error", src, 0)
	if want := "```\n" + strings.Repeat("é", maxQuoted) + "…\n```"; !strings.Contains(got, want) {
		t.Errorf("a long message is not cut to %d characters:\n%s", maxQuoted, got)
	}
}
