package podinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/loglet/loglet/sidecar/jsontext"
)

// Pod is the identity of the pod a sidecar runs in. A Pod is immutable once
// built by [New]; share it freely between goroutines.
type Pod struct {
	Name        string
	Namespace   string
	UID         string
	IP          string
	Node        string
	Container   string
	Labels      map[string]string
	Annotations map[string]string

	json []byte // the encoded `kubernetes` object, built once by New
}

// Env is the Downward API environment, as [ReadEnv] reads it.
type Env struct {
	Name      string // POD_NAME
	Hostname  string // HOSTNAME, read only in Kubernetes
	Namespace string // POD_NAMESPACE
	UID       string // POD_UID
	IP        string // POD_IP
	Node      string // NODE_NAME, read only in Kubernetes
	Container string // CONTAINER_NAME, read only in Kubernetes
}

// InKubernetesEnv is the variable the kubelet sets in every container. The
// generic names HOSTNAME, NODE_NAME and CONTAINER_NAME are read only when it
// is set: a developer's shell or a CI job often has them for other reasons,
// and they must not end up in the records of a dry run.
const InKubernetesEnv = "KUBERNETES_SERVICE_HOST"

// EnvVariable describes one variable [ReadEnv] reads.
type EnvVariable struct {
	Name string
	Help string
	// KubernetesOnly is true for the generic names read only when
	// InKubernetesEnv is set.
	KubernetesOnly bool
}

// EnvVariables lists the variables [ReadEnv] reads, in the order of Env's
// fields.
var EnvVariables = []EnvVariable{
	{Name: "POD_NAME", Help: "pod name (Downward API metadata.name)"},
	{Name: "HOSTNAME", Help: "the pod name when POD_NAME is not set; read only in Kubernetes (" + InKubernetesEnv + " set)", KubernetesOnly: true},
	{Name: "POD_NAMESPACE", Help: "pod namespace (metadata.namespace)"},
	{Name: "POD_UID", Help: "pod UID (metadata.uid)"},
	{Name: "POD_IP", Help: "pod IP (status.podIP)"},
	{Name: "NODE_NAME", Help: "node name (spec.nodeName); read only in Kubernetes (" + InKubernetesEnv + " set)", KubernetesOnly: true},
	{Name: "CONTAINER_NAME", Help: "the app container's name (set by hand: the Downward API has no field for it); read only in Kubernetes (" + InKubernetesEnv + " set)", KubernetesOnly: true},
}

// ReadEnv reads the Downward API environment through lookup (os.LookupEnv,
// or a map's). The specific names POD_NAME, POD_NAMESPACE, POD_UID and
// POD_IP are always read; the generic HOSTNAME, NODE_NAME and CONTAINER_NAME
// only when InKubernetesEnv is set.
func ReadEnv(lookup func(string) (string, bool)) Env {
	get := func(name string) string { v, _ := lookup(name); return v }
	e := Env{Name: get("POD_NAME"), Namespace: get("POD_NAMESPACE"), UID: get("POD_UID"), IP: get("POD_IP")}
	if get(InKubernetesEnv) != "" {
		e.Hostname, e.Node, e.Container = get("HOSTNAME"), get("NODE_NAME"), get("CONTAINER_NAME")
	}
	return e
}

// PodName is POD_NAME, or HOSTNAME when POD_NAME is not set.
func (e Env) PodName() string {
	if e.Name != "" {
		return e.Name
	}
	return e.Hostname
}

// New builds a Pod from the environment and the label and annotation maps
// (either may be nil) and encodes its JSON form.
func New(env Env, labels, annotations map[string]string) *Pod {
	p := &Pod{
		Name:        env.PodName(),
		Namespace:   env.Namespace,
		UID:         env.UID,
		IP:          env.IP,
		Node:        env.Node,
		Container:   env.Container,
		Labels:      labels,
		Annotations: annotations,
	}
	p.json = p.encode()
	return p
}

// JSON returns the pod's `kubernetes` object as JSON text. The caller must
// not modify it.
func (p *Pod) JSON() []byte { return p.json }

func (p *Pod) encode() []byte {
	b := []byte{'{'}
	field := func(k, v string) {
		if v == "" {
			return
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, k)
		b = append(b, ':')
		b = jsontext.AppendString(b, v)
	}
	object := func(k string, m map[string]string) {
		if len(m) == 0 {
			return
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, k)
		b = append(b, ':', '{')
		for i, key := range slices.Sorted(maps.Keys(m)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsontext.AppendString(b, key)
			b = append(b, ':')
			b = jsontext.AppendString(b, m[key])
		}
		b = append(b, '}')
	}
	field("pod_name", p.Name)
	field("namespace_name", p.Namespace)
	field("pod_id", p.UID)
	field("pod_ip", p.IP)
	field("host", p.Node)
	field("container_name", p.Container)
	object("labels", p.Labels)
	object("annotations", p.Annotations)
	return append(b, '}')
}

// ErrTemplate is wrapped by every error [Pod.Expand] returns.
var ErrTemplate = errors.New("bad template")

// MissingError is the error of [Pod.ExpandStrict] for a placeholder that
// expands to the empty string. It says which metadata is missing.
type MissingError struct {
	Template    string // the whole template
	Placeholder string // e.g. "namespace" or "label:team", without braces
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%q: {%s} expands to nothing: %s", e.Template, e.Placeholder, e.Missing())
}

// Missing describes the missing metadata and where it comes from.
func (e *MissingError) Missing() string {
	switch name := e.Placeholder; {
	case name == "namespace":
		return "POD_NAMESPACE is not set (Downward API metadata.namespace)"
	case name == "pod":
		return "POD_NAME is not set (Downward API metadata.name; HOSTNAME is used instead only in Kubernetes)"
	case name == "container":
		return "CONTAINER_NAME is not set (it is read only in Kubernetes, " + InKubernetesEnv + " set)"
	case name == "node":
		return "NODE_NAME is not set (Downward API spec.nodeName; read only in Kubernetes, " + InKubernetesEnv + " set)"
	case name == "uid":
		return "POD_UID is not set (Downward API metadata.uid)"
	case strings.HasPrefix(name, "label:"):
		return fmt.Sprintf("the pod has no label %q, or it is empty (the labels file of the downwardAPI volume)", strings.TrimPrefix(name, "label:"))
	default:
		return fmt.Sprintf("the pod has no annotation %q, or it is empty (the annotations file of the downwardAPI volume)", strings.TrimPrefix(name, "annotation:"))
	}
}

// Expand replaces the placeholders {namespace}, {pod}, {container}, {node},
// {uid}, {label:KEY} and {annotation:KEY} in tmpl with the pod's values. A
// missing value expands to the empty string, so Expand of an empty Pod
// checks a template's syntax; an unknown or unclosed placeholder is an
// error wrapping [ErrTemplate]. Use [Pod.ExpandStrict] for a value that is
// going to be used.
func (p *Pod) Expand(tmpl string) (string, error) {
	return p.expand(tmpl, false)
}

// ExpandStrict is [Pod.Expand], except that a placeholder expanding to the
// empty string is a [*MissingError]: a topic template logs.{namespace}
// without POD_NAMESPACE must not give the topic "logs.".
func (p *Pod) ExpandStrict(tmpl string) (string, error) {
	return p.expand(tmpl, true)
}

func (p *Pod) expand(tmpl string, strict bool) (string, error) {
	if !strings.Contains(tmpl, "{") {
		return tmpl, nil
	}
	var sb strings.Builder
	rest := tmpl
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			sb.WriteString(rest)
			return sb.String(), nil
		}
		sb.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("%w %q: unclosed {", ErrTemplate, tmpl)
		}
		name := rest[i+1 : i+j]
		rest = rest[i+j+1:]
		var v string
		switch {
		case name == "namespace":
			v = p.Namespace
		case name == "pod":
			v = p.Name
		case name == "container":
			v = p.Container
		case name == "node":
			v = p.Node
		case name == "uid":
			v = p.UID
		case strings.HasPrefix(name, "label:"):
			v = p.Labels[strings.TrimPrefix(name, "label:")]
		case strings.HasPrefix(name, "annotation:"):
			v = p.Annotations[strings.TrimPrefix(name, "annotation:")]
		default:
			return "", fmt.Errorf("%w %q: unknown placeholder {%s}", ErrTemplate, tmpl, name)
		}
		if v == "" && strict {
			return "", &MissingError{Template: tmpl, Placeholder: name}
		}
		sb.WriteString(v)
	}
}

// ParseDownwardFile parses a downwardAPI volume file of labels or
// annotations: one `key="escaped value"` per line, as the kubelet writes it.
func ParseDownwardFile(data []byte) (map[string]string, error) {
	m := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: no '='", n)
		}
		uv, err := strconv.Unquote(v)
		if err != nil {
			return nil, fmt.Errorf("line %d: value of %q: %w", n, k, err)
		}
		m[k] = uv
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}
