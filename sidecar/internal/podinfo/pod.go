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

	"github.com/loglet/loglet/sidecar/internal/jsontext"
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

// Env is the Downward API environment: POD_NAME (falling back to HOSTNAME),
// POD_NAMESPACE, POD_UID, POD_IP, NODE_NAME and CONTAINER_NAME.
type Env struct {
	Name      string `env:"POD_NAME"`
	Hostname  string `env:"HOSTNAME"`
	Namespace string `env:"POD_NAMESPACE"`
	UID       string `env:"POD_UID"`
	IP        string `env:"POD_IP"`
	Node      string `env:"NODE_NAME"`
	Container string `env:"CONTAINER_NAME"`
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

// Expand replaces the placeholders {namespace}, {pod}, {container}, {node},
// {uid}, {label:KEY} and {annotation:KEY} in tmpl with the pod's values. A
// missing value expands to the empty string; an unknown or unclosed
// placeholder is an error wrapping [ErrTemplate].
func (p *Pod) Expand(tmpl string) (string, error) {
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
		switch {
		case name == "namespace":
			sb.WriteString(p.Namespace)
		case name == "pod":
			sb.WriteString(p.Name)
		case name == "container":
			sb.WriteString(p.Container)
		case name == "node":
			sb.WriteString(p.Node)
		case name == "uid":
			sb.WriteString(p.UID)
		case strings.HasPrefix(name, "label:"):
			sb.WriteString(p.Labels[strings.TrimPrefix(name, "label:")])
		case strings.HasPrefix(name, "annotation:"):
			sb.WriteString(p.Annotations[strings.TrimPrefix(name, "annotation:")])
		default:
			return "", fmt.Errorf("%w %q: unknown placeholder {%s}", ErrTemplate, tmpl, name)
		}
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
