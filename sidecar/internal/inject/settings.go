package inject

import (
	"errors"
	"fmt"
	"path"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Defaults of [Settings]: what an empty field means.
const (
	DefaultImage         = "ghcr.io/loglet/loglet:0.1.0"
	DefaultCPURequest    = "50m"
	DefaultMemoryRequest = "32Mi"
	DefaultCPULimit      = "500m"
	DefaultMemoryLimit   = "64Mi"
	DefaultLogDir        = "/var/log/app"
	DefaultSidecarMode   = ModeNative
	// DefaultTerminationGracePeriodSeconds leaves the sidecar time for its
	// own shutdown (LOGLET_SHUTDOWN_TIMEOUT, 25s by default) after the app
	// containers have stopped.
	DefaultTerminationGracePeriodSeconds = 40
)

// The sidecar modes: how the loglet container is added to a pod.
const (
	// ModeNative adds loglet as a native sidecar, an init container with
	// restartPolicy Always (Kubernetes 1.29+): it starts before the app
	// containers and stops after them, so the last lines are shipped.
	ModeNative = "native"
	// ModeContainer adds loglet as an ordinary container, for clusters
	// older than 1.29. It may stop before the app does.
	ModeContainer = "container"
)

// ErrSettings is wrapped by every error [Settings.Validate] returns.
var ErrSettings = errors.New("bad injector settings")

// Settings are the cluster-wide defaults of the injector. The loglet-injector
// command reads them from the environment with the prefix LOGLET_INJECTOR_
// (so Image is LOGLET_INJECTOR_IMAGE). Every field's zero value means the
// default given in its comment. Settings is a plain value: copy it freely.
type Settings struct {
	// Image is the loglet image of the sidecar. Default DefaultImage.
	Image string `env:"IMAGE" help:"loglet sidecar image (default ghcr.io/loglet/loglet:0.1.0)"`
	// ImagePullPolicy is the sidecar's pull policy. Default: unset, so the
	// API server's default applies.
	ImagePullPolicy string `env:"IMAGE_PULL_POLICY" help:"Always | IfNotPresent | Never (default: the API server's default)"`

	// CPURequest, MemoryRequest, CPULimit and MemoryLimit size the sidecar.
	// Defaults DefaultCPURequest, DefaultMemoryRequest, DefaultCPULimit and
	// DefaultMemoryLimit.
	CPURequest    string `env:"CPU_REQUEST" help:"sidecar CPU request (default 50m)"`
	MemoryRequest string `env:"MEMORY_REQUEST" help:"sidecar memory request (default 32Mi)"`
	CPULimit      string `env:"CPU_LIMIT" help:"sidecar CPU limit (default 500m)"`
	MemoryLimit   string `env:"MEMORY_LIMIT" help:"sidecar memory limit (default 64Mi)"`

	// KafkaBrokers becomes the sidecar's LOGLET_KAFKA_BROKERS. Default: not set.
	KafkaBrokers []string `env:"KAFKA_BROKERS" envSeparator:"," help:"comma-separated Kafka bootstrap brokers for every sidecar"`
	// KafkaTopic becomes LOGLET_KAFKA_TOPIC unless a pod's loglet.dev/topic
	// annotation says otherwise. Default: not set (the sidecar's
	// logs.{namespace}).
	KafkaTopic string `env:"KAFKA_TOPIC" help:"Kafka topic template (default: the sidecar's, logs.{namespace})"`
	// KafkaSecret names a Secret, in each pod's namespace, mounted read-only
	// at KafkaSecretDir in the sidecar: ca.crt when KafkaTLS is set, tls.crt
	// and tls.key when KafkaClientCert is set, username and password when
	// KafkaSASLMechanism is set. Default: no Secret.
	KafkaSecret string `env:"KAFKA_SECRET" help:"Secret with Kafka credentials (keys ca.crt, tls.crt, tls.key, username, password), mounted in each sidecar"`
	// KafkaTLS makes the sidecar connect with TLS, trusting the Secret's
	// ca.crt (or the system roots when there is no Secret).
	KafkaTLS bool `env:"KAFKA_TLS" help:"connect to Kafka with TLS (CA from the Secret's ca.crt)"`
	// KafkaClientCert makes the sidecar present the Secret's tls.crt and
	// tls.key (mutual TLS). It needs KafkaSecret and KafkaTLS.
	KafkaClientCert bool `env:"KAFKA_CLIENT_CERT" help:"present the Secret's tls.crt and tls.key to Kafka (mutual TLS)"`
	// KafkaSASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; the user
	// name and password come from the Secret. Default: no SASL.
	KafkaSASLMechanism string `env:"KAFKA_SASL_MECHANISM" help:"PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (user name and password from the Secret)"`

	// LogDir is where the shared volume is mounted unless a pod's
	// loglet.dev/log-dir annotation says otherwise. Default DefaultLogDir.
	LogDir string `env:"LOG_DIR" help:"mount path of the shared log volume (default /var/log/app)"`
	// LogVolumeSizeLimit caps the shared emptyDir (a quantity such as 1Gi).
	// Default: no limit.
	LogVolumeSizeLimit string `env:"LOG_VOLUME_SIZE_LIMIT" help:"sizeLimit of the shared emptyDir, e.g. 1Gi (default: none)"`
	// SidecarMode is ModeNative or ModeContainer unless a pod's
	// loglet.dev/sidecar-mode annotation says otherwise. Default ModeNative.
	SidecarMode string `env:"SIDECAR_MODE" help:"native (init container with restartPolicy Always, Kubernetes 1.29+) | container (default native)"`
	// TerminationGracePeriodSeconds is the least grace period an injected
	// pod gets; a longer one is kept. Default
	// DefaultTerminationGracePeriodSeconds.
	TerminationGracePeriodSeconds int64 `env:"TERMINATION_GRACE_PERIOD_SECONDS" help:"least terminationGracePeriodSeconds of an injected pod (default 40)"`
}

// KafkaSecretDir is where the Kafka Secret is mounted in the sidecar.
const KafkaSecretDir = "/etc/loglet/kafka"

// PodinfoDir is where the downwardAPI volume is mounted in the sidecar (the
// sidecar's default LOGLET_PODINFO_DIR).
const PodinfoDir = "/etc/podinfo"

// withDefaults returns s with every empty field set to its default.
func (s Settings) withDefaults() Settings {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&s.Image, DefaultImage)
	def(&s.CPURequest, DefaultCPURequest)
	def(&s.MemoryRequest, DefaultMemoryRequest)
	def(&s.CPULimit, DefaultCPULimit)
	def(&s.MemoryLimit, DefaultMemoryLimit)
	def(&s.LogDir, DefaultLogDir)
	def(&s.SidecarMode, DefaultSidecarMode)
	if s.TerminationGracePeriodSeconds == 0 {
		s.TerminationGracePeriodSeconds = DefaultTerminationGracePeriodSeconds
	}
	return s
}

// Validate reports the first problem with s, wrapping [ErrSettings]. The
// loglet-injector command refuses to start with invalid settings; [Mutate]
// admits every pod unchanged with them.
func (s Settings) Validate() error {
	s = s.withDefaults()
	for _, q := range []struct{ name, v string }{
		{"CPU_REQUEST", s.CPURequest}, {"MEMORY_REQUEST", s.MemoryRequest},
		{"CPU_LIMIT", s.CPULimit}, {"MEMORY_LIMIT", s.MemoryLimit},
		{"LOG_VOLUME_SIZE_LIMIT", s.LogVolumeSizeLimit},
	} {
		if q.v == "" {
			continue
		}
		if _, err := resource.ParseQuantity(q.v); err != nil {
			return fmt.Errorf("%w: %s %q: %v", ErrSettings, q.name, q.v, err)
		}
	}
	if err := checkMode(s.SidecarMode); err != nil {
		return fmt.Errorf("%w: SIDECAR_MODE: %v", ErrSettings, err)
	}
	if err := checkLogDir(s.LogDir); err != nil {
		return fmt.Errorf("%w: LOG_DIR: %v", ErrSettings, err)
	}
	if err := checkTopic(s.KafkaTopic); err != nil {
		return fmt.Errorf("%w: KAFKA_TOPIC: %v", ErrSettings, err)
	}
	if s.ImagePullPolicy != "" && !slices.Contains([]string{"Always", "IfNotPresent", "Never"}, s.ImagePullPolicy) {
		return fmt.Errorf("%w: IMAGE_PULL_POLICY %q: want Always, IfNotPresent or Never", ErrSettings, s.ImagePullPolicy)
	}
	if s.KafkaSASLMechanism != "" && !slices.Contains([]string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, s.KafkaSASLMechanism) {
		return fmt.Errorf("%w: KAFKA_SASL_MECHANISM %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", ErrSettings, s.KafkaSASLMechanism)
	}
	if s.KafkaSASLMechanism != "" && s.KafkaSecret == "" {
		return fmt.Errorf("%w: KAFKA_SASL_MECHANISM needs KAFKA_SECRET (the user name and password)", ErrSettings)
	}
	if s.KafkaClientCert && (s.KafkaSecret == "" || !s.KafkaTLS) {
		return fmt.Errorf("%w: KAFKA_CLIENT_CERT needs KAFKA_SECRET and KAFKA_TLS", ErrSettings)
	}
	if s.TerminationGracePeriodSeconds < 0 {
		return fmt.Errorf("%w: TERMINATION_GRACE_PERIOD_SECONDS %d is negative", ErrSettings, s.TerminationGracePeriodSeconds)
	}
	return nil
}

func checkMode(m string) error {
	if m != ModeNative && m != ModeContainer {
		return fmt.Errorf("%q: want %s or %s", m, ModeNative, ModeContainer)
	}
	return nil
}

func checkLogDir(dir string) error {
	if !path.IsAbs(dir) || path.Clean(dir) != dir || dir == "/" {
		return fmt.Errorf("%q: want a clean absolute path other than /", dir)
	}
	return nil
}
