package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v10"

	"github.com/loglet/loglet/sidecar/internal/parse"
	"github.com/loglet/loglet/sidecar/internal/pipeline"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink/kafka"
	"github.com/loglet/loglet/sidecar/internal/tail"
)

// Config is the sidecar's whole configuration. Each field's variable, default
// and help text are in its tags.
type Config struct {
	LogDir     string `env:"LOGLET_LOG_DIR" envDefault:"/var/log/app" help:"the shared volume the app writes its log files to"`
	Include    string `env:"LOGLET_INCLUDE" envDefault:"*.log" help:"glob of file names to ship; {pod} expands to the pod name (e.g. {pod}*.log on a shared hostPath)"`
	Exclude    string `env:"LOGLET_EXCLUDE" help:"glob of file names not to ship"`
	ActiveFile string `env:"LOGLET_ACTIVE_FILE" envDefault:"{pod}.log" help:"the file the app is writing; never deleted, never closed while idle"`
	StateDir   string `env:"LOGLET_STATE_DIR" help:"checkpoint directory (default <LOGLET_LOG_DIR>/.loglet, on the shared volume so it survives sidecar restarts)"`
	StartAt    string `env:"LOGLET_START_AT" envDefault:"beginning" help:"beginning | end: where to start files found on the very first start"`
	Sink       string `env:"LOGLET_SINK" envDefault:"kafka" help:"kafka | stdout (prints the records: a dry run)"`

	PollInterval       time.Duration `env:"LOGLET_POLL_INTERVAL" envDefault:"250ms" help:"directory polling interval, and the longest wait before re-reading an idle file"`
	RotateWait         time.Duration `env:"LOGLET_ROTATE_WAIT" envDefault:"5s" help:"idle time after which a renamed, deleted or rotated file is let go"`
	MultilineTimeout   time.Duration `env:"LOGLET_MULTILINE_TIMEOUT" envDefault:"1s" help:"idle time after which a held-back multi-line record (stack trace) is sent"`
	CheckpointInterval time.Duration `env:"LOGLET_CHECKPOINT_INTERVAL" envDefault:"1s" help:"how often changed checkpoints are saved"`
	ShutdownTimeout    time.Duration `env:"LOGLET_SHUTDOWN_TIMEOUT" envDefault:"25s" help:"how long shutdown waits for the sink's acknowledgements"`

	MaxLineBytes   Bytes `env:"LOGLET_MAX_LINE_BYTES" envDefault:"1MiB" help:"longer lines are cut to this size and marked truncated"`
	MaxOpenFiles   int   `env:"LOGLET_MAX_OPEN_FILES" envDefault:"100" help:"files read at the same time"`
	MaxBufferBytes Bytes `env:"LOGLET_MAX_BUFFER_BYTES" envDefault:"8MiB" help:"unacknowledged record bytes before reading pauses"`
	DeleteShipped  bool  `env:"LOGLET_DELETE_SHIPPED" envDefault:"false" help:"remove rotated files once every line in them is acknowledged"`

	FieldTypes string `env:"LOGLET_FIELD_TYPES" help:"pinned field types, e.g. count=int,latency_ms=float,ok=bool,user=string"`
	DefaultTZ  string `env:"LOGLET_DEFAULT_TZ" envDefault:"UTC" help:"zone of log times written without one (IANA name)"`
	PodinfoDir string `env:"LOGLET_PODINFO_DIR" envDefault:"/etc/podinfo" help:"downwardAPI volume with the files labels and annotations"`

	HTTPAddr string `env:"LOGLET_HTTP_ADDR" envDefault:":9110" help:"address of /healthz, /readyz and /metrics; empty disables it"`
	LogLevel string `env:"LOGLET_LOG_LEVEL" envDefault:"info" help:"debug | info | warn | error: the sidecar's own logs (JSON on stderr)"`

	Kafka kafka.Config `envPrefix:"LOGLET_KAFKA_"`
	Pod   podinfo.Env

	fieldTypes map[string]parse.Type
	location   *time.Location
}

// Bytes is a size in bytes that accepts KiB, MiB and GiB (and KB, MB, GB)
// suffixes.
type Bytes int

// UnmarshalText parses "1048576", "512KiB", "8MiB" or "1GB".
func (b *Bytes) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000_000}, {"GB", 1000_000_000}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s || n < 0 {
		return fmt.Errorf("%q is not a size (e.g. 1048576, 512KiB, 8MiB)", string(text))
	}
	*b = Bytes(n * mult)
	return nil
}

// Load reads the configuration from environ (KEY=VALUE strings, as
// os.Environ returns) and validates it. The error lists every bad variable.
func Load(environ []string) (*Config, error) {
	var cfg Config
	err := env.ParseWithOptions(&cfg, env.Options{Environment: env.ToMap(environ)})
	var errs []error
	if err != nil {
		errs = append(errs, namedParseErrors(err)...)
	}
	errs = append(errs, cfg.validate()...)
	if len(errs) > 0 {
		return nil, &Error{Problems: errs}
	}
	return &cfg, nil
}

// Error is a configuration that cannot be used; Problems name each bad
// variable.
type Error struct {
	Problems []error
}

func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString("invalid configuration:")
	for _, p := range e.Problems {
		sb.WriteString("\n  ")
		sb.WriteString(p.Error())
	}
	return sb.String()
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (e *Error) Unwrap() []error { return e.Problems }

// namedParseErrors rewrites env's errors, which name Go fields, to name the
// environment variables.
func namedParseErrors(err error) []error {
	byField := map[string]string{}
	for _, v := range Variables() {
		byField[v.Field] = v.Name
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return []error{err}
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			name := byField[pe.Name]
			if name == "" {
				name = pe.Name
			}
			out = append(out, fmt.Errorf("%s: %v", name, pe.Err))
			continue
		}
		out = append(out, e)
	}
	return out
}

func (c *Config) validate() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(name+": "+format, args...))
	}
	if c.LogDir == "" || !filepath.IsAbs(c.LogDir) {
		bad("LOGLET_LOG_DIR", "%q is not an absolute path", c.LogDir)
	}
	if c.StateDir != "" && !filepath.IsAbs(c.StateDir) {
		bad("LOGLET_STATE_DIR", "%q is not an absolute path", c.StateDir)
	}
	pod := podinfo.New(c.Pod, nil, nil)
	for _, p := range []struct{ name, val string }{{"LOGLET_INCLUDE", c.Include}, {"LOGLET_EXCLUDE", c.Exclude}, {"LOGLET_ACTIVE_FILE", c.ActiveFile}} {
		exp, err := pod.Expand(p.val)
		if err != nil {
			bad(p.name, "%v", err)
			continue
		}
		if strings.Contains(p.val, "{pod}") && pod.Name == "" {
			bad(p.name, "uses {pod} but neither POD_NAME nor HOSTNAME is set")
		}
		if err := (tail.Matcher{Include: exp}).Validate(); err != nil {
			bad(p.name, "%v", err)
		}
	}
	if c.Include == "" {
		bad("LOGLET_INCLUDE", "must not be empty")
	}
	switch c.StartAt {
	case "beginning", "end":
	default:
		bad("LOGLET_START_AT", "%q: want beginning or end", c.StartAt)
	}
	switch c.Sink {
	case "stdout":
	case "kafka":
		if err := c.Kafka.Validate(); err != nil {
			errs = append(errs, unjoin(err)...)
		}
	default:
		bad("LOGLET_SINK", "%q: want kafka or stdout", c.Sink)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"LOGLET_POLL_INTERVAL", c.PollInterval}, {"LOGLET_ROTATE_WAIT", c.RotateWait},
		{"LOGLET_MULTILINE_TIMEOUT", c.MultilineTimeout}, {"LOGLET_CHECKPOINT_INTERVAL", c.CheckpointInterval},
		{"LOGLET_SHUTDOWN_TIMEOUT", c.ShutdownTimeout}} {
		if d.v <= 0 {
			bad(d.name, "%v is not positive", d.v)
		}
	}
	if c.PollInterval > 0 && c.PollInterval < time.Millisecond {
		bad("LOGLET_POLL_INTERVAL", "%v is below 1ms", c.PollInterval)
	}
	if c.MaxLineBytes < 256 {
		bad("LOGLET_MAX_LINE_BYTES", "%d is below 256", c.MaxLineBytes)
	}
	if c.MaxOpenFiles < 1 {
		bad("LOGLET_MAX_OPEN_FILES", "%d is below 1", c.MaxOpenFiles)
	}
	if c.MaxBufferBytes < 64<<10 {
		bad("LOGLET_MAX_BUFFER_BYTES", "%d is below 64KiB", c.MaxBufferBytes)
	}
	var err error
	if c.fieldTypes, err = parse.ParseFieldTypes(c.FieldTypes); err != nil {
		bad("LOGLET_FIELD_TYPES", "%v", err)
	}
	if c.location, err = time.LoadLocation(c.DefaultTZ); err != nil {
		bad("LOGLET_DEFAULT_TZ", "%v", err)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		bad("LOGLET_LOG_LEVEL", "%q: want debug, info, warn or error", c.LogLevel)
	}
	return errs
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Pipeline returns the pipeline's configuration, with {pod} expanded.
func (c *Config) Pipeline(pod *podinfo.Pod) pipeline.Config {
	expand := func(s string) string {
		out, _ := pod.Expand(s) // checked by Load
		return out
	}
	state := c.StateDir
	if state == "" {
		state = filepath.Join(c.LogDir, ".loglet")
	}
	return pipeline.Config{
		LogDir: c.LogDir, StateDir: state,
		Include: expand(c.Include), Exclude: expand(c.Exclude), ActiveFile: expand(c.ActiveFile),
		StartAtEnd:   c.StartAt == "end",
		PollInterval: c.PollInterval, RotateWait: c.RotateWait, MultilineTimeout: c.MultilineTimeout,
		CheckpointInterval: c.CheckpointInterval, ShutdownTimeout: c.ShutdownTimeout,
		MaxLineBytes: int(c.MaxLineBytes), MaxOpenFiles: c.MaxOpenFiles, MaxBufferBytes: int(c.MaxBufferBytes),
		DeleteShipped: c.DeleteShipped,
		PodOwned:      strings.Contains(c.Include, "{pod}"),
		Parse:         parse.Options{FieldTypes: c.fieldTypes, Location: c.location},
	}
}

// Variable describes one environment variable.
type Variable struct {
	Name    string
	Default string
	Help    string
	Field   string // the Go field name, as env's errors give it
}

// Variables lists every variable the sidecar reads, in declaration order.
func Variables() []Variable {
	return variables(reflect.TypeFor[Config](), "")
}

func variables(t reflect.Type, prefix string) []Variable {
	var out []Variable
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			out = append(out, variables(f.Type, prefix+f.Tag.Get("envPrefix"))...)
			continue
		}
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		help := f.Tag.Get("help")
		if help == "" {
			help = downwardHelp[name]
		}
		out = append(out, Variable{Name: prefix + name, Default: f.Tag.Get("envDefault"), Help: help, Field: f.Name})
	}
	return out
}

// downwardHelp describes the Downward API variables, whose struct lives in
// package podinfo.
var downwardHelp = map[string]string{
	"POD_NAME":       "pod name (Downward API metadata.name)",
	"HOSTNAME":       "used as the pod name when POD_NAME is not set",
	"POD_NAMESPACE":  "pod namespace (metadata.namespace)",
	"POD_UID":        "pod UID (metadata.uid)",
	"POD_IP":         "pod IP (status.podIP)",
	"NODE_NAME":      "node name (spec.nodeName)",
	"CONTAINER_NAME": "the app container's name (set it by hand; the Downward API has no field for it)",
}

// Usage renders the variables as a table for `loglet -h`.
func Usage() string {
	var sb strings.Builder
	sb.WriteString("loglet reads its configuration from the environment:\n\n")
	for _, v := range Variables() {
		def := v.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(&sb, "  %-36s default %-20s %s\n", v.Name, def, v.Help)
	}
	return sb.String()
}
