package inject

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/topicname"
)

// Defaults of [Settings]: what an empty field means.
const (
	DefaultImage         = "ghcr.io/loglet/loglet:0.2.0"
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
	Image string `env:"IMAGE" help:"loglet sidecar image (default ghcr.io/loglet/loglet:0.2.0)"`
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
	// KafkaKey becomes LOGLET_KAFKA_KEY, the message key template (same
	// placeholders as the topic). Default: not set (the sidecar's {pod}).
	KafkaKey string `env:"KAFKA_KEY" help:"Kafka message key template (default: the sidecar's, {pod})"`
	// KafkaCompression becomes LOGLET_KAFKA_COMPRESSION: none, gzip,
	// snappy, lz4 or zstd. Default: not set (the sidecar's lz4).
	KafkaCompression string `env:"KAFKA_COMPRESSION" help:"none | gzip | snappy | lz4 | zstd (default: the sidecar's, lz4)"`
	// KafkaAcks becomes LOGLET_KAFKA_ACKS: all or one. Default: not set
	// (the sidecar's all).
	KafkaAcks string `env:"KAFKA_ACKS" help:"all | one (default: the sidecar's, all)"`
	// SharedTopicPrefixes are literal beginnings of topic names that any
	// namespace's pods may produce to: a topic template (the cluster's, or
	// a pod's loglet.dev/topic) that starts with one is allowed although it
	// does not keep to the pod's namespace (see topicInNamespace).
	// Default: none.
	SharedTopicPrefixes []string `env:"SHARED_TOPIC_PREFIXES" envSeparator:"," help:"comma-separated topic prefixes any namespace may produce to, e.g. shared. (default: none)"`
	// AllowAnyTopic lets a topic template name any topic, so a pod's
	// loglet.dev/topic may point its logs at another namespace's topic.
	// Default false: a template must keep to the pod's namespace or start
	// with one of SharedTopicPrefixes.
	AllowAnyTopic bool `env:"ALLOW_ANY_TOPIC" help:"allow topic templates that leave the pod's namespace (default false)"`
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
	for _, p := range s.SharedTopicPrefixes {
		if strings.ContainsAny(p, "{}") || topicname.CheckPrefix(p) != nil {
			return fmt.Errorf("%w: SHARED_TOPIC_PREFIXES: %q: want literal topic name beginnings such as shared. (to allow every topic, set ALLOW_ANY_TOPIC=true)", ErrSettings, p)
		}
	}
	if err := checkTopic(s.KafkaTopic); err != nil {
		return fmt.Errorf("%w: KAFKA_TOPIC: %v", ErrSettings, err)
	}
	if err := s.checkTopicPolicy(s.KafkaTopic); err != nil {
		return fmt.Errorf("%w: KAFKA_TOPIC: %w", ErrSettings, err)
	}
	if s.KafkaKey != "" {
		if _, err := podinfo.New(podinfo.Env{}, nil, nil).Expand(s.KafkaKey); err != nil {
			return fmt.Errorf("%w: KAFKA_KEY: %v", ErrSettings, err)
		}
	}
	if s.KafkaCompression != "" && !slices.Contains([]string{"none", "gzip", "snappy", "lz4", "zstd"}, s.KafkaCompression) {
		return fmt.Errorf("%w: KAFKA_COMPRESSION %q: want none, gzip, snappy, lz4 or zstd", ErrSettings, s.KafkaCompression)
	}
	if s.KafkaAcks != "" && !slices.Contains([]string{"all", "one"}, s.KafkaAcks) {
		return fmt.Errorf("%w: KAFKA_ACKS %q: want all or one", ErrSettings, s.KafkaAcks)
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

// ErrTopicPolicy is wrapped by the error for a topic template that can name
// a topic outside the pod's namespace when the settings do not allow it.
var ErrTopicPolicy = errors.New("topic outside the pod's namespace")

// topicInNamespace reports whether every topic tmpl can expand to belongs to
// the pod's namespace alone: tmpl is WORD.{namespace}, alone or followed by
// "." or "_" and anything, where WORD is literal text without a dot. The
// topic's second dot-separated part is then always the namespace (a
// namespace name has neither "." nor "_"), so two namespaces' topics never
// meet, whatever labels or pod names the rest expands. The sidecar's
// default, logs.{namespace}, is one; logs.team-b, logs.{label:team} and
// {namespace}.logs are not (a namespace named logs would own
// logs.<anything>).
func topicInNamespace(tmpl string) bool {
	word, rest, ok := strings.Cut(tmpl, ".{namespace}")
	if !ok || word == "" || strings.ContainsAny(word, ".{}") {
		return false
	}
	return rest == "" || rest[0] == '.' || rest[0] == '_'
}

// checkTopicPolicy returns an error wrapping [ErrTopicPolicy] when tmpl may
// leave the pod's namespace and s does not allow it. An empty tmpl is the
// sidecar's default, logs.{namespace}.
func (s Settings) checkTopicPolicy(tmpl string) error {
	if tmpl == "" || s.AllowAnyTopic || topicInNamespace(tmpl) {
		return nil
	}
	for _, p := range s.SharedTopicPrefixes {
		if strings.HasPrefix(tmpl, p) {
			return nil
		}
	}
	shared := "none is set"
	if len(s.SharedTopicPrefixes) > 0 {
		shared = strings.Join(s.SharedTopicPrefixes, ", ")
	}
	return fmt.Errorf("%w: %q: a template must be WORD.{namespace}, "+
		"optionally followed by . and more (e.g. logs.{namespace}.{label:app}), or start with one of the "+
		"injector's LOGLET_INJECTOR_SHARED_TOPIC_PREFIXES (%s)", ErrTopicPolicy, tmpl, shared)
}

// systemDirs are where an image keeps what it needs to run, and the
// kernel's and the runtime's file systems. A log volume at, under or above
// one of them hides it from the app.
var systemDirs = []string{"/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin", "/sys", "/usr", "/var/run"}

func checkLogDir(dir string) error {
	if !path.IsAbs(dir) || path.Clean(dir) != dir || dir == "/" {
		return fmt.Errorf("%q: want a clean absolute path other than /", dir)
	}
	for _, sys := range systemDirs {
		if within(dir, sys) || within(sys, dir) {
			return fmt.Errorf("%q: an emptyDir there would hide the app image's %s; want a directory of the app's own, such as %s", dir, sys, DefaultLogDir)
		}
	}
	return nil
}

// within reports whether the clean absolute path p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}
