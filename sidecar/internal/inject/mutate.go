package inject

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/loglet/loglet/sidecar/internal/parse"
	"github.com/loglet/loglet/sidecar/internal/topicname"
)

// The annotations and label the injector reads and writes.
const (
	// AnnotationInject set to "false" opts a pod out. The label of the same
	// name (value "enabled") opts a pod or a namespace in; the webhook's
	// selectors match it, so the injector never reads it.
	AnnotationInject      = "loglet.dev/inject"
	AnnotationStatus      = "loglet.dev/status"
	AnnotationTopic       = "loglet.dev/topic"
	AnnotationFieldTypes  = "loglet.dev/field-types"
	AnnotationLogDir      = "loglet.dev/log-dir"
	AnnotationContainers  = "loglet.dev/containers"
	AnnotationSidecarMode = "loglet.dev/sidecar-mode"

	// StatusInjected is the value of AnnotationStatus on an injected pod.
	StatusInjected = "injected"
)

// The names the injector adds to a pod.
const (
	ContainerName       = "loglet"
	LogVolumeName       = "loglet-logs"
	PodinfoVolumeName   = "loglet-podinfo"
	KafkaVolumeName     = "loglet-kafka"
	sidecarHTTPPort     = 9110
	sidecarHTTPPortName = "http-loglet"
	nonRootID           = 65532 // the image's nonroot user and group
)

// Outcome says what [Mutate] did with a pod.
type Outcome string

// The outcomes of [Mutate].
const (
	// Injected: the returned pod has the sidecar.
	Injected Outcome = "injected"
	// AlreadyInjected: the pod carries loglet.dev/status: injected and is
	// returned unchanged (a reinvocation, or a hand-written sidecar).
	AlreadyInjected Outcome = "already_injected"
	// OptedOut: the pod's loglet.dev/inject annotation is "false".
	OptedOut Outcome = "opted_out"
	// Failed: the pod cannot be injected; it is returned unchanged and the
	// error says why. The handler admits it as it is, with a warning.
	Failed Outcome = "failed"
	// Denied: the pod asks for what the cluster forbids (a topic outside
	// its namespace, see Settings.SharedTopicPrefixes); it is returned
	// unchanged and the handler refuses to admit it.
	Denied Outcome = "denied"
)

// ErrAnnotation is wrapped by the error [Mutate] returns for a pod with a
// bad loglet.dev/* annotation value.
var ErrAnnotation = errors.New("bad annotation")

// ErrConflict is wrapped by the error [Mutate] returns for a pod that
// already uses a name or setting the injector needs (a volume or container
// called loglet-*, a different LOGLET_LOG_DIR or POD_NAME, another volume at
// the log directory).
var ErrConflict = errors.New("conflict")

// Mutate returns a deep copy of pod with the loglet sidecar injected as s
// and the pod's loglet.dev/* annotations ask, and what it did. It never
// changes pod. When it returns an error the returned pod equals pod: with
// [ErrTopicPolicy] the outcome is Denied and the caller refuses the pod;
// with [ErrAnnotation], [ErrConflict] or [ErrSettings] it is Failed and the
// caller admits the pod unchanged.
func Mutate(pod *corev1.Pod, s Settings) (*corev1.Pod, Outcome, error) {
	out := pod.DeepCopy()
	if pod.Annotations[AnnotationStatus] == StatusInjected {
		return out, AlreadyInjected, nil
	}
	switch v := pod.Annotations[AnnotationInject]; v {
	case "false", "disabled":
		return out, OptedOut, nil
	case "", "true", "enabled":
	default:
		return out, Failed, fmt.Errorf("%w %s=%q: want \"false\" to opt out", ErrAnnotation, AnnotationInject, v)
	}
	if err := s.Validate(); err != nil {
		return out, Failed, err
	}
	s = s.withDefaults()
	p, err := podParams(pod, s)
	if errors.Is(err, ErrTopicPolicy) {
		return out, Denied, err
	}
	if err != nil {
		return out, Failed, err
	}
	if err := checkConflicts(pod, p); err != nil {
		return out, Failed, err
	}
	inject(out, s, p)
	return out, Injected, nil
}

// params are the per-pod choices: the settings overridden by annotations.
type params struct {
	logDir     string
	topic      string
	fieldTypes string
	mode       string
	containers []string // the app containers that get the volume, in pod order
}

func podParams(pod *corev1.Pod, s Settings) (params, error) {
	a := pod.Annotations
	p := params{logDir: s.LogDir, topic: s.KafkaTopic, mode: s.SidecarMode}
	bad := func(key string, err error) error {
		return fmt.Errorf("%w %s=%q: %v", ErrAnnotation, key, a[key], err)
	}
	// The topic first: a pod that asks for another namespace's topic is
	// denied, whatever else is wrong with it.
	if v, ok := a[AnnotationTopic]; ok {
		if err := checkTopic(v); err != nil {
			return p, bad(AnnotationTopic, err)
		}
		if err := s.checkTopicPolicy(v); err != nil {
			return p, fmt.Errorf("%s: %w", AnnotationTopic, err)
		}
		p.topic = v
	}
	if v, ok := a[AnnotationLogDir]; ok {
		if err := checkLogDir(v); err != nil {
			return p, bad(AnnotationLogDir, err)
		}
		p.logDir = v
	}
	if v, ok := a[AnnotationFieldTypes]; ok {
		if _, err := parse.ParseFieldTypes(v); err != nil {
			return p, bad(AnnotationFieldTypes, err)
		}
		p.fieldTypes = v
	}
	if v, ok := a[AnnotationSidecarMode]; ok {
		if err := checkMode(v); err != nil {
			return p, bad(AnnotationSidecarMode, err)
		}
		p.mode = v
	}
	all := make([]string, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		all = append(all, c.Name)
	}
	v, ok := a[AnnotationContainers]
	if !ok {
		p.containers = all
		return p, nil
	}
	want := map[string]bool{}
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(all, name) {
			return p, bad(AnnotationContainers, fmt.Errorf("the pod has no container %q", name))
		}
		want[name] = true
	}
	if len(want) == 0 {
		return p, bad(AnnotationContainers, errors.New("names no container"))
	}
	for _, name := range all {
		if want[name] {
			p.containers = append(p.containers, name)
		}
	}
	return p, nil
}

// checkTopic checks a topic template with the sidecar's own rules
// (topicname.CheckTemplate, which reads the placeholders as the sidecar
// expands them), so that the sidecar does not refuse at start what the
// injector accepted.
func checkTopic(tmpl string) error {
	if tmpl == "" {
		return nil
	}
	return topicname.CheckTemplate(tmpl)
}

func checkConflicts(pod *corev1.Pod, p params) error {
	for _, v := range pod.Spec.Volumes {
		if v.Name == LogVolumeName || v.Name == PodinfoVolumeName || v.Name == KafkaVolumeName {
			return fmt.Errorf("%w: the pod already has a volume named %q", ErrConflict, v.Name)
		}
	}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		if c.Name == ContainerName {
			return fmt.Errorf("%w: the pod already has a container named %q", ErrConflict, c.Name)
		}
	}
	for _, c := range pod.Spec.Containers {
		if !slices.Contains(p.containers, c.Name) {
			continue
		}
		for _, m := range c.VolumeMounts {
			mp := path.Clean(m.MountPath)
			switch {
			case mp == p.logDir:
				return fmt.Errorf("%w: container %q already mounts volume %q at %s", ErrConflict, c.Name, m.Name, p.logDir)
			case within(mp, p.logDir):
				return fmt.Errorf("%w: the log directory %s contains container %q's mount of volume %q at %s: an emptyDir there would hide the image's files around it", ErrConflict, p.logDir, c.Name, m.Name, mp)
			case within(p.logDir, mp) && readOnly(pod, m):
				return fmt.Errorf("%w: the log directory %s is inside container %q's read-only volume %q at %s, where no mount point can be made", ErrConflict, p.logDir, c.Name, m.Name, mp)
			}
		}
		for _, e := range c.Env {
			switch {
			case e.Name == "LOGLET_LOG_DIR" && (e.Value != p.logDir || e.ValueFrom != nil):
				return fmt.Errorf("%w: container %q sets LOGLET_LOG_DIR other than %s", ErrConflict, c.Name, p.logDir)
			case e.Name == "POD_NAME" && (e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name"):
				return fmt.Errorf("%w: container %q sets POD_NAME other than from metadata.name", ErrConflict, c.Name)
			}
		}
	}
	return nil
}

// readOnly reports whether the mount m is read-only: marked so, or of a
// volume type the kubelet always mounts read-only.
func readOnly(pod *corev1.Pod, m corev1.VolumeMount) bool {
	if m.ReadOnly {
		return true
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == m.Name {
			return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
		}
	}
	return false
}

// inject changes pod (a copy) in place; podParams and checkConflicts have
// accepted it.
func inject(pod *corev1.Pod, s Settings, p params) {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[AnnotationStatus] = StatusInjected

	logVol := corev1.Volume{Name: LogVolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	if s.LogVolumeSizeLimit != "" {
		q := resource.MustParse(s.LogVolumeSizeLimit) // Validate accepted it
		logVol.EmptyDir.SizeLimit = &q
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, logVol, corev1.Volume{
		Name: PodinfoVolumeName,
		VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "annotations", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}},
		}}},
	})
	if s.KafkaSecret != "" {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
			Name:         KafkaVolumeName,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: s.KafkaSecret}},
		})
	}

	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if !slices.Contains(p.containers, c.Name) {
			continue
		}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: LogVolumeName, MountPath: p.logDir})
		if !hasEnv(c.Env, "LOGLET_LOG_DIR") {
			c.Env = append(c.Env, corev1.EnvVar{Name: "LOGLET_LOG_DIR", Value: p.logDir})
		}
		if !hasEnv(c.Env, "POD_NAME") {
			c.Env = append(c.Env, fieldEnv("POD_NAME", "metadata.name"))
		}
	}

	sidecar := sidecarContainer(s, p)
	if p.mode == ModeNative {
		always := corev1.ContainerRestartPolicyAlways
		sidecar.RestartPolicy = &always
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, sidecar)
	} else {
		pod.Spec.Containers = append(pod.Spec.Containers, sidecar)
	}

	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g < s.TerminationGracePeriodSeconds {
		v := s.TerminationGracePeriodSeconds
		pod.Spec.TerminationGracePeriodSeconds = &v
	}
}

func sidecarContainer(s Settings, p params) corev1.Container {
	env := []corev1.EnvVar{
		fieldEnv("POD_NAME", "metadata.name"),
		fieldEnv("POD_NAMESPACE", "metadata.namespace"),
		fieldEnv("POD_UID", "metadata.uid"),
		fieldEnv("POD_IP", "status.podIP"),
		fieldEnv("NODE_NAME", "spec.nodeName"),
	}
	if len(p.containers) == 1 {
		// Records name the container that wrote them; with several
		// writers the sidecar cannot tell, so the field is left out.
		env = append(env, corev1.EnvVar{Name: "CONTAINER_NAME", Value: p.containers[0]})
	}
	env = append(env, corev1.EnvVar{Name: "LOGLET_LOG_DIR", Value: p.logDir})
	if p.fieldTypes != "" {
		env = append(env, corev1.EnvVar{Name: "LOGLET_FIELD_TYPES", Value: p.fieldTypes})
	}
	if len(s.KafkaBrokers) > 0 {
		env = append(env, corev1.EnvVar{Name: "LOGLET_KAFKA_BROKERS", Value: strings.Join(s.KafkaBrokers, ",")})
	}
	if p.topic != "" {
		env = append(env, corev1.EnvVar{Name: "LOGLET_KAFKA_TOPIC", Value: p.topic})
	}
	for _, e := range []struct{ name, v string }{
		{"LOGLET_KAFKA_KEY", s.KafkaKey}, {"LOGLET_KAFKA_COMPRESSION", s.KafkaCompression}, {"LOGLET_KAFKA_ACKS", s.KafkaAcks},
	} {
		if e.v != "" {
			env = append(env, corev1.EnvVar{Name: e.name, Value: e.v})
		}
	}
	if s.KafkaTLS {
		env = append(env, corev1.EnvVar{Name: "LOGLET_KAFKA_TLS", Value: "true"})
		if s.KafkaSecret != "" {
			env = append(env, corev1.EnvVar{Name: "LOGLET_KAFKA_TLS_CA_FILE", Value: KafkaSecretDir + "/ca.crt"})
		}
		if s.KafkaClientCert {
			env = append(env,
				corev1.EnvVar{Name: "LOGLET_KAFKA_TLS_CERT_FILE", Value: KafkaSecretDir + "/tls.crt"},
				corev1.EnvVar{Name: "LOGLET_KAFKA_TLS_KEY_FILE", Value: KafkaSecretDir + "/tls.key"})
		}
	}
	if s.KafkaSASLMechanism != "" {
		env = append(env,
			corev1.EnvVar{Name: "LOGLET_KAFKA_SASL_MECHANISM", Value: s.KafkaSASLMechanism},
			corev1.EnvVar{Name: "LOGLET_KAFKA_SASL_USERNAME", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: s.KafkaSecret}, Key: "username"}}},
			corev1.EnvVar{Name: "LOGLET_KAFKA_SASL_PASSWORD_FILE", Value: KafkaSecretDir + "/password"})
	}

	mounts := []corev1.VolumeMount{
		{Name: LogVolumeName, MountPath: p.logDir},
		{Name: PodinfoVolumeName, MountPath: PodinfoDir, ReadOnly: true},
	}
	if s.KafkaSecret != "" {
		mounts = append(mounts, corev1.VolumeMount{Name: KafkaVolumeName, MountPath: KafkaSecretDir, ReadOnly: true})
	}

	// Only a livenessProbe, and a patient one: it restarts a loglet whose
	// HTTP server has not answered for a minute, and a restart makes the
	// sidecar, and so the Pod, unready for a moment. No readinessProbe: a
	// native sidecar's readiness is part of the Pod's Ready condition, and
	// nothing loglet can fail (Kafka, a checkpoint save) is a reason to take
	// the app out of its Service. No startupProbe: the app containers would
	// wait for it, so a loglet that cannot start would keep the app from
	// starting. See "Probes" in the README.
	liveness := &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString(sidecarHTTPPortName)}},
		PeriodSeconds:    10,
		TimeoutSeconds:   5,
		FailureThreshold: 6,
	}
	no, yes := false, true
	id := int64(nonRootID)
	return corev1.Container{
		Name:            ContainerName,
		Image:           s.Image,
		ImagePullPolicy: corev1.PullPolicy(s.ImagePullPolicy),
		Ports:           []corev1.ContainerPort{{Name: sidecarHTTPPortName, ContainerPort: sidecarHTTPPort, Protocol: corev1.ProtocolTCP}},
		Env:             env,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(s.CPURequest),
				corev1.ResourceMemory: resource.MustParse(s.MemoryRequest),
			},
			Limits: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(s.CPULimit),
				corev1.ResourceMemory: resource.MustParse(s.MemoryLimit),
			},
		},
		VolumeMounts:  mounts,
		LivenessProbe: liveness,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             &yes,
			RunAsUser:                &id,
			RunAsGroup:               &id,
			ReadOnlyRootFilesystem:   &yes,
			AllowPrivilegeEscalation: &no,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

func fieldEnv(name, fieldPath string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: fieldPath}}}
}

func hasEnv(env []corev1.EnvVar, name string) bool {
	return slices.ContainsFunc(env, func(e corev1.EnvVar) bool { return e.Name == name })
}
