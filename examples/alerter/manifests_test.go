package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestManifests decodes manifests/alerter/deployment.yaml strictly into the
// Kubernetes API type and loads the alerter's configuration from its
// container's environment, with the Secret's keys and files standing in for
// what the kubelet provides: every variable it sets is one the alerter
// reads, the configuration is valid, and every file it names is mounted from
// the Secret.
func TestManifests(t *testing.T) {
	data, err := os.ReadFile("../../manifests/alerter/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(data, &d); err != nil {
		t.Fatalf("deployment.yaml: %v", err)
	}
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]

	known := map[string]bool{}
	var walk func(reflect.Type, string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+f.Tag.Get("envPrefix"))
			} else if name := f.Tag.Get("env"); name != "" {
				known[prefix+name] = true
			}
		}
	}
	walk(reflect.TypeFor[config](), "")

	// The Secret's keys, as the kubelet would give them.
	secret := map[string]string{"webhook-url": "https://hooks.example/T0/B0/x", "username": "alerter"}
	mounts := map[string]string{} // mount path -> Secret volume
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
		if !m.ReadOnly {
			t.Errorf("volume %s is mounted writable", m.Name)
		}
	}
	volumes := map[string]*corev1.SecretVolumeSource{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v.Secret
	}
	dir := t.TempDir()
	environ := map[string]string{}
	var files []string
	for _, e := range c.Env {
		if !known[e.Name] {
			t.Errorf("env %s: not a variable the alerter reads", e.Name)
		}
		v := e.Value
		if ref := e.ValueFrom; ref != nil {
			if ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "loglet-alerter" {
				t.Errorf("env %s: want a key of the Secret loglet-alerter", e.Name)
				continue
			}
			v = secret[ref.SecretKeyRef.Key]
		}
		if strings.HasSuffix(e.Name, "_FILE") {
			files = append(files, v)
			// The file must come from a Secret volume holding that key.
			vol := volumes[mounts[filepath.Dir(v)]]
			if vol == nil || vol.SecretName != "loglet-alerter" || !slices.ContainsFunc(vol.Items, func(k corev1.KeyToPath) bool { return k.Path == filepath.Base(v) }) {
				t.Errorf("env %s=%s: not a file of the Secret loglet-alerter's volume", e.Name, v)
			}
			local := filepath.Join(dir, filepath.Base(v))
			if err := os.WriteFile(local, []byte("s3cret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			v = local
		}
		environ[e.Name] = v
	}
	environ["ALERT_KAFKA_TLS_CA_FILE"] = "" // a real CA is not at hand; the check of its content is kafkasec's
	cfg, err := loadConfig(environ)
	if err != nil {
		t.Fatalf("the manifest's configuration: %v", err)
	}
	if !cfg.TLS || cfg.SASLMechanism == "" {
		t.Errorf("the manifest connects without TLS or SASL: %+v", cfg.Security)
	}
	if diff := cmp.Diff([]string{"/etc/loglet/kafka/ca.crt", "/etc/loglet/kafka/password"}, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}

	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("the container is not read-only without privilege escalation")
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("a service account token is mounted")
	}
	if !strings.HasPrefix(c.Image, "ghcr.io/loglet/alerter:") {
		t.Errorf("image %q, want ghcr.io/loglet/alerter:VERSION (the Dockerfile's alerter target)", c.Image)
	}
}
