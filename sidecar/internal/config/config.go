package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/loglet/loglet/sidecar/bytesize"
	"github.com/loglet/loglet/sidecar/internal/parse"
	"github.com/loglet/loglet/sidecar/internal/pipeline"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/shape"
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

	PollInterval       time.Duration `env:"LOGLET_POLL_INTERVAL" envDefault:"250ms" help:"where inotify reports nothing (some network and FUSE file systems): how often files and the directory are polled"`
	ReadCoalesce       time.Duration `env:"LOGLET_READ_COALESCE" envDefault:"300ms" help:"after a file is written, how long to wait for more writes before reading it, so that writes close together cost one read, batch and request (300ms keeps write-to-Kafka latency near 150 ms at the median, near 300 ms at p99); 0 reads at once"`
	RotateWait         time.Duration `env:"LOGLET_ROTATE_WAIT" envDefault:"5s" help:"idle time after which a renamed, deleted or rotated file is let go"`
	MultilineTimeout   time.Duration `env:"LOGLET_MULTILINE_TIMEOUT" envDefault:"1s" help:"idle time after which a held-back multi-line record (stack trace) is sent"`
	CheckpointInterval time.Duration `env:"LOGLET_CHECKPOINT_INTERVAL" envDefault:"10s" help:"longest time a changed checkpoint waits to be saved; sooner once 256 KiB of lines are acknowledged since the last save (then within a second), and at shutdown"`
	ShutdownTimeout    time.Duration `env:"LOGLET_SHUTDOWN_TIMEOUT" envDefault:"25s" help:"how long shutdown waits for the sink's acknowledgements"`

	MaxLineBytes   bytesize.Size `env:"LOGLET_MAX_LINE_BYTES" envDefault:"1MiB" help:"longer lines are cut to this size and marked truncated"`
	MaxOpenFiles   int           `env:"LOGLET_MAX_OPEN_FILES" envDefault:"100" help:"files read at the same time"`
	MaxBufferBytes bytesize.Size `env:"LOGLET_MAX_BUFFER_BYTES" envDefault:"8MiB" help:"unacknowledged record bytes before reading pauses"`
	DeleteShipped  bool          `env:"LOGLET_DELETE_SHIPPED" envDefault:"false" help:"remove rotated files once every line in them is acknowledged"`

	FieldTypes        string `env:"LOGLET_FIELD_TYPES" help:"pinned field types, e.g. count=int,latency_ms=float,ok=bool,user=string"`
	DefaultTZ         string `env:"LOGLET_DEFAULT_TZ" envDefault:"UTC" help:"zone of log times written without one (IANA name)"`
	NormalizeLevels   bool   `env:"LOGLET_NORMALIZE_LEVELS" envDefault:"true" help:"map levels to trace, debug, info, warn, error, fatal (warning becomes warn, the word as written kept in level_original); false ships them lower-cased as written"`
	Multiline         string `env:"LOGLET_MULTILINE" envDefault:"all" help:"built-in stack-trace joiners: a list of java, python, go, node, dotnet; all or none (indented lines always join)"`
	MultilineStart    string `env:"LOGLET_MULTILINE_START" help:"RE2: a line matching it starts a multi-line record (with LOGLET_MULTILINE_CONTINUE), e.g. ^\\[\\d{4}-"`
	MultilineContinue string `env:"LOGLET_MULTILINE_CONTINUE" help:"RE2: a line matching it continues a record LOGLET_MULTILINE_START started, e.g. ^\\s"`

	DropLevels       string `env:"LOGLET_DROP_LEVELS" help:"drop records at these normalised levels, e.g. debug,trace"`
	DropIf           string `env:"LOGLET_DROP_IF" help:"drop records matching a condition (FIELD=VALUE, FIELD!=VALUE, FIELD~RE2, FIELD!~RE2, joined by &&); rules separated by ;, e.g. path=/healthz;msg~^GET /metrics"`
	Sample           string `env:"LOGLET_SAMPLE" help:"keep 1 in N of the records matching a condition, marked sample_rate:N; rules N:CONDITION separated by ;, e.g. 10:path~^/api/"`
	Redact           string `env:"LOGLET_REDACT" help:"replace RE2 matches with [REDACTED] in msg, named fields or * (every string); rules FIELDS~RE2 separated by ;, e.g. msg,token~Bearer [^ ]+"`
	RemoveFields     string `env:"LOGLET_REMOVE_FIELDS" help:"fields to remove, and kubernetes.KEY for the pod metadata, e.g. password,kubernetes.annotations"`
	KeepFields       string `env:"LOGLET_KEEP_FIELDS" help:"keep only these keys in fields, e.g. user,path,status"`
	Metrics          string `env:"LOGLET_METRICS" help:"Prometheus metrics from log fields, on /metrics; rules NAME counter [FIELD] [by=L1,L2] or NAME histogram FIELD [buckets=B1,B2] [by=...] separated by ;"`
	MetricsMaxSeries int    `env:"LOGLET_METRICS_MAX_SERIES" envDefault:"100" help:"label sets per LOGLET_METRICS metric; new ones past it fold into \"other\" (loglet_log_metrics_folded_total)"`

	PodinfoDir string `env:"LOGLET_PODINFO_DIR" envDefault:"/etc/podinfo" help:"downwardAPI volume with the files labels and annotations"`

	HTTPAddr string `env:"LOGLET_HTTP_ADDR" envDefault:":9110" empty:"keep" help:"address of /healthz, /readyz and /metrics; set but empty disables the server"`
	LogLevel string `env:"LOGLET_LOG_LEVEL" envDefault:"info" help:"debug | info | warn | error: the sidecar's own logs (JSON on stderr)"`
	Pprof    bool   `env:"LOGLET_PPROF" envDefault:"false" help:"serve Go's profiles on the HTTP server under /debug/pprof/ (off by default)"`

	Kafka kafka.Config `envPrefix:"LOGLET_KAFKA_"`
	Pod   podinfo.Env  // read by podinfo.ReadEnv

	// HTTPListener is LOGLET_HTTP_ADDR, bound by Load so that a taken port
	// is reported with every other problem; nil when LOGLET_HTTP_ADDR is
	// set but empty. The caller owns it.
	HTTPListener net.Listener
	// UserGOMAXPROCS tells that the GOMAXPROCS environment variable is set:
	// the pipeline then leaves the scheduler's processors alone.
	UserGOMAXPROCS bool

	fieldTypes map[string]parse.Type
	location   *time.Location
	multiline  *parse.Multiline
	shape      shape.Spec
}

// Load reads the configuration from environ (KEY=VALUE strings, as
// os.Environ returns) and checks it: every variable's syntax, the unknown
// LOGLET_* variables, and then what can be checked on the machine before any
// file is touched: the log dir exists and is a directory, the pod's
// metadata (environment and the downwardAPI files in LOGLET_PODINFO_DIR)
// expands every template to something, the Kafka output's secret files are
// readable, and LOGLET_HTTP_ADDR can be bound (the listener is returned in
// HTTPListener). The error, an [*Error], lists every problem at once.
func Load(environ []string) (*Config, error) {
	return load(environ, func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) })
}

func load(environ []string, listen func(addr string) (net.Listener, error)) (*Config, error) {
	env := parseEnviron(environ)
	var cfg Config
	failed := map[string]bool{}
	errs := unknownVariables(env)
	errs = append(errs, decode(env, &cfg, failed)...)
	cfg.Pod = podinfo.ReadEnv(env.lookup)
	_, cfg.UserGOMAXPROCS = env["GOMAXPROCS"]
	errs = append(errs, cfg.validate(failed)...)
	errs = append(errs, cfg.check(failed)...)
	if cfg.HTTPAddr != "" && !failed["LOGLET_HTTP_ADDR"] {
		ln, err := listen(cfg.HTTPAddr)
		if err != nil {
			errs = append(errs, fmt.Errorf("LOGLET_HTTP_ADDR: %w", err))
		}
		cfg.HTTPListener = ln
	}
	if len(errs) > 0 {
		if cfg.HTTPListener != nil {
			cfg.HTTPListener.Close()
		}
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

// validate checks what needs nothing but the variables. It skips the
// variables in failed, whose parse error is already reported.
func (c *Config) validate(failed map[string]bool) []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		if !failed[name] {
			errs = append(errs, fmt.Errorf(name+": "+format, args...))
		}
	}
	if c.LogDir == "" || !filepath.IsAbs(c.LogDir) {
		bad("LOGLET_LOG_DIR", "%q is not an absolute path", c.LogDir)
	}
	if c.StateDir != "" && !filepath.IsAbs(c.StateDir) {
		bad("LOGLET_STATE_DIR", "%q is not an absolute path", c.StateDir)
	}
	syntax := podinfo.New(podinfo.Env{}, nil, nil) // Expand of an empty pod checks the syntax only
	for _, p := range c.fileTemplates() {
		exp, err := syntax.Expand(p.val)
		if err != nil {
			bad(p.name, "%v", err)
			continue
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
	if c.ReadCoalesce < 0 || c.ReadCoalesce > 10*time.Second {
		bad("LOGLET_READ_COALESCE", "%v is not between 0 and 10s", c.ReadCoalesce)
	}
	if c.PollInterval > 0 && c.PollInterval < time.Millisecond {
		bad("LOGLET_POLL_INTERVAL", "%v is below 1ms", c.PollInterval)
	}
	if c.MaxLineBytes < 256 {
		bad("LOGLET_MAX_LINE_BYTES", "%s is below 256", c.MaxLineBytes)
	}
	if c.MaxLineBytes > math.MaxInt32 {
		bad("LOGLET_MAX_LINE_BYTES", "%s is above 2GiB", c.MaxLineBytes)
	}
	if c.MaxOpenFiles < 1 {
		bad("LOGLET_MAX_OPEN_FILES", "%d is below 1", c.MaxOpenFiles)
	}
	if c.MaxBufferBytes < 64<<10 {
		bad("LOGLET_MAX_BUFFER_BYTES", "%s is below 64KiB", c.MaxBufferBytes)
	}
	if c.MaxBufferBytes > math.MaxInt32 {
		bad("LOGLET_MAX_BUFFER_BYTES", "%s is above 2GiB", c.MaxBufferBytes)
	}
	var err error
	if c.fieldTypes, err = parse.ParseFieldTypes(c.FieldTypes); err != nil {
		bad("LOGLET_FIELD_TYPES", "%v", err)
	}
	if c.location, err = time.LoadLocation(c.DefaultTZ); err != nil {
		bad("LOGLET_DEFAULT_TZ", "%q is not a time zone (an IANA name such as UTC or Europe/Berlin)", c.DefaultTZ)
	}
	c.multiline = &parse.Multiline{}
	if c.multiline.Builtins, err = parse.ParseBuiltins(c.Multiline); err != nil {
		bad("LOGLET_MULTILINE", "%v", err)
	}
	for _, r := range []struct {
		name, val string
		re        **regexp.Regexp
	}{{"LOGLET_MULTILINE_START", c.MultilineStart, &c.multiline.Start}, {"LOGLET_MULTILINE_CONTINUE", c.MultilineContinue, &c.multiline.Continue}} {
		if r.val == "" {
			continue
		}
		if *r.re, err = regexp.Compile(r.val); err != nil {
			bad(r.name, "%q is not an RE2 pattern: %v", r.val, err)
		}
	}
	switch {
	case c.MultilineStart != "" && c.MultilineContinue == "":
		bad("LOGLET_MULTILINE_CONTINUE", "must be set with LOGLET_MULTILINE_START")
	case c.MultilineStart == "" && c.MultilineContinue != "":
		bad("LOGLET_MULTILINE_START", "must be set with LOGLET_MULTILINE_CONTINUE")
	}
	c.validateShape(bad)
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		bad("LOGLET_LOG_LEVEL", "%q: want debug, info, warn or error", c.LogLevel)
	}
	if c.HTTPAddr != "" {
		if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
			bad("LOGLET_HTTP_ADDR", "%q is not host:port (e.g. :9110 or 127.0.0.1:9110; set it empty to disable the server)", c.HTTPAddr)
			failed["LOGLET_HTTP_ADDR"] = true
		}
	}
	return errs
}

// validateShape checks the shaping rules and keeps them in c.shape.
func (c *Config) validateShape(bad func(name, format string, args ...any)) {
	sp := &c.shape
	var err error
	if sp.DropLevels, err = shape.ParseDropLevels(c.DropLevels); err != nil {
		bad("LOGLET_DROP_LEVELS", "%v", err)
	}
	if sp.DropIf, err = shape.ParseConditions(c.DropIf); err != nil {
		bad("LOGLET_DROP_IF", "%v", err)
	}
	if sp.Sample, err = shape.ParseSample(c.Sample); err != nil {
		bad("LOGLET_SAMPLE", "%v", err)
	}
	if sp.Redact, err = shape.ParseRedact(c.Redact); err != nil {
		bad("LOGLET_REDACT", "%v", err)
	}
	if sp.Remove, err = shape.ParseRemove(c.RemoveFields); err != nil {
		bad("LOGLET_REMOVE_FIELDS", "%v", err)
	}
	if sp.Keep, err = shape.ParseKeep(c.KeepFields); err != nil {
		bad("LOGLET_KEEP_FIELDS", "%v", err)
	}
	if sp.Metrics, err = shape.ParseMetrics(c.Metrics); err != nil {
		bad("LOGLET_METRICS", "%v", err)
	}
	if c.MetricsMaxSeries < 1 {
		bad("LOGLET_METRICS_MAX_SERIES", "%d is below 1", c.MetricsMaxSeries)
	}
	sp.MaxSeries = c.MetricsMaxSeries
}

// Shape returns the shaping rules; in the dry run (LOGLET_SINK=stdout)
// records the rules would drop are marked instead.
func (c *Config) Shape() shape.Spec {
	s := c.shape
	s.DryRun = c.Sink == "stdout"
	return s
}

// fileTemplates are the templates of the file names, by variable.
func (c *Config) fileTemplates() []struct{ name, val string } {
	return []struct{ name, val string }{{"LOGLET_INCLUDE", c.Include}, {"LOGLET_EXCLUDE", c.Exclude}, {"LOGLET_ACTIVE_FILE", c.ActiveFile}}
}

// check does what needs the machine, reading and never writing: the log
// dir, the pod's metadata and the templates expanded with it, and the Kafka
// output's files.
func (c *Config) check(failed map[string]bool) []error {
	var errs []error
	if filepath.IsAbs(c.LogDir) {
		if err := checkDir(c.LogDir); err != nil {
			errs = append(errs, fmt.Errorf("LOGLET_LOG_DIR: %w", err))
		}
	}
	src := &podinfo.Source{Env: c.Pod, Dir: c.PodinfoDir}
	if err := src.Load(); err != nil {
		errs = append(errs, fmt.Errorf("LOGLET_PODINFO_DIR: %w", err))
	}
	pod := src.Pod()
	note := func(err error) error { return c.podinfoNote(err, pod) }
	for _, p := range c.fileTemplates() {
		if _, err := pod.ExpandStrict(p.val); err != nil && !errors.Is(err, podinfo.ErrTemplate) && !failed[p.name] {
			errs = append(errs, note(fmt.Errorf("%s: %w", p.name, err)))
		}
	}
	if c.Sink == "kafka" && c.Kafka.Validate() == nil {
		if err := c.Kafka.Check(pod); err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, note(e))
			}
		}
	}
	return errs
}

// checkDir checks that dir is a directory loglet can list.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// podinfoNote adds to an error about a missing label or annotation where
// loglet looked for it.
func (c *Config) podinfoNote(err error, pod *podinfo.Pod) error {
	var me *podinfo.MissingError
	if !errors.As(err, &me) {
		return err
	}
	file := ""
	switch {
	case strings.HasPrefix(me.Placeholder, "label:"):
		file = "labels"
	case strings.HasPrefix(me.Placeholder, "annotation:"):
		file = "annotations"
	default:
		return err
	}
	path := filepath.Join(c.PodinfoDir, file)
	if _, serr := os.Stat(path); serr != nil {
		return fmt.Errorf("%w; LOGLET_PODINFO_DIR has no %s file (%s): mount a downwardAPI volume there", err, file, path)
	}
	return fmt.Errorf("%w; read from %s", err, path)
}

// unjoin flattens errors.Join's trees into one problem per leaf.
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}

// Pipeline returns the pipeline's configuration, with the templates
// expanded for pod (Load checked that they expand to something).
func (c *Config) Pipeline(pod *podinfo.Pod) pipeline.Config {
	expand := func(s string) string {
		out, _ := pod.ExpandStrict(s) // checked by Load
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
		PollInterval: c.PollInterval, Coalesce: c.ReadCoalesce, RotateWait: c.RotateWait, MultilineTimeout: c.MultilineTimeout,
		CheckpointInterval: c.CheckpointInterval, ShutdownTimeout: c.ShutdownTimeout,
		MaxLineBytes: int(c.MaxLineBytes), MaxOpenFiles: c.MaxOpenFiles, MaxBufferBytes: int(c.MaxBufferBytes),
		DeleteShipped: c.DeleteShipped, KeepGOMAXPROCS: c.UserGOMAXPROCS,
		PodOwned: strings.Contains(c.Include, "{pod}"),
		Parse: parse.Options{FieldTypes: c.fieldTypes, Location: c.location,
			RawLevels: !c.NormalizeLevels, Multiline: c.multiline},
	}
}

// Variable describes one environment variable.
type Variable struct {
	Name    string
	Default string
	Help    string
}

// Variables lists every variable the sidecar reads, in declaration order.
// The un-prefixed ones are the Downward API's, read by [podinfo.ReadEnv].
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
		if f.Type == podEnvType {
			for _, v := range podinfo.EnvVariables {
				out = append(out, Variable{Name: v.Name, Help: v.Help})
			}
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, variables(f.Type, prefix+f.Tag.Get("envPrefix"))...)
			continue
		}
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		out = append(out, Variable{Name: prefix + name, Default: f.Tag.Get("envDefault"), Help: f.Tag.Get("help")})
	}
	return out
}

const usageIntro = `loglet reads its configuration from the environment. Every problem is
reported at once, before any file is touched, with exit status 2.

  - An empty value means the default, except LOGLET_HTTP_ADDR= (no HTTP server).
  - Sizes (*_BYTES): bytes, or with B, KB, MB, GB (powers of 1000) or KiB, MiB,
    GiB (powers of 1024): 1048576, 512KiB, 8MiB, 1GB.
  - Durations: a number and a unit: 250ms, 5s, 1m30s. Booleans: true or false.
  - An unknown LOGLET_* variable is an error; applib's LOGLET_MAX_FILE_BYTES and
    LOGLET_MAX_FILES (from an envFrom shared with the app) are ignored.
  - Templates take {namespace} {pod} {container} {node} {uid} {label:KEY}
    {annotation:KEY}; one that expands to nothing is an error.
  - Of the un-prefixed Downward API names, POD_NAME, POD_NAMESPACE, POD_UID and
    POD_IP are always read; HOSTNAME, NODE_NAME and CONTAINER_NAME only in
    Kubernetes (KUBERNETES_SERVICE_HOST set), so a shell's do not leak in.

`

// Usage renders the variables as a table for `loglet -h`.
func Usage() string {
	var sb strings.Builder
	sb.WriteString(usageIntro)
	for _, v := range Variables() {
		def := v.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(&sb, "  %-36s default %-20s %s\n", v.Name, def, v.Help)
	}
	return sb.String()
}
