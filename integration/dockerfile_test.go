package integration_test

// The image cannot be built on the CI machines (no Docker engine), so this
// file keeps the root Dockerfile honest another way: it reads the Dockerfile,
// checks the recipe's promises (static, trimmed, versioned binaries in a
// non-root distroless or scratch image), and runs each `RUN go build` line of
// the build stage with the Dockerfile's own environment and flags, writing
// into a temporary directory instead of /out.

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDockerfileBuildCommandsSucceed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binaries; skipped with -short")
	}
	root := moduleRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	version := "dockerfile-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	df, err := parseDockerfile(string(src), map[string]string{"VERSION": version})
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, p := range checkRecipe(df) {
		t.Errorf("Dockerfile: %s", p)
	}
	var pkgs []string
	for _, b := range df.builds {
		pkgs = append(pkgs, b.pkg)
	}
	want := []string{"./sidecar/cmd/loglet", "./sidecar/cmd/loglet-injector", "./examples/counter", "./examples/alerter"}
	if diff := cmp.Diff(want, pkgs); diff != "" {
		t.Errorf("Dockerfile builds (-want +got):\n%s", diff)
	}

	out := t.TempDir()
	for _, b := range df.builds {
		t.Run(path.Base(b.pkg), func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(b.pkg))); errors.Is(err, os.ErrNotExist) {
				t.Skipf("%s does not exist yet", b.pkg)
			}
			bin, err := b.run(root, out)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkBinary(bin, version); err != nil {
				t.Error(err)
			}
			// What CHANGELOG.md promises: `loglet -version` (and every
			// other binary's) prints the version the build was given.
			got, err := exec.Command(bin, "-version").CombinedOutput()
			if err != nil || !bytes.Contains(got, []byte(" "+version)) {
				t.Errorf("%s -version = %q, %v; want output containing %q", bin, got, err, version)
			}
		})
	}
}

// TestDockerfileTargets: one target per image, each holding the binaries
// its manifests run, and the default target (the last stage, what a plain
// `docker build .` makes) is loglet's.
func TestDockerfileTargets(t *testing.T) {
	df := readDockerfile(t)
	got := map[string][]string{}
	for name, st := range df.targets() {
		got[name] = append(st.entrypoint, st.copied...)
	}
	want := map[string][]string{
		"loglet":  {"/loglet", "/out/loglet", "/out/loglet-injector"},
		"counter": {"/counter", "/out/counter"},
		"alerter": {"/alerter", "/out/alerter"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets: entrypoint, then the binaries copied (-want +got):\n%s", diff)
	}
	if last := df.stages[len(df.stages)-1]; last.name != "loglet" {
		t.Errorf("the default target is %q, want loglet", last.name)
	}
}

// imageRef matches the project's image references.
var imageRef = regexp.MustCompile(`ghcr\.io/loglet/([a-z0-9-]+)(:[^\s"'\x60)]*)?`)

// TestManifestImagesAreBuilt: every image of the project that the
// manifests, the README and the injector's default name is
// ghcr.io/loglet/TARGET:VERSION, where TARGET is a Dockerfile target and
// VERSION the VERSION file's, so that `make image` builds exactly what they
// run.
func TestManifestImagesAreBuilt(t *testing.T) {
	root := moduleRoot(t)
	version := readVersion(t)
	targets := readDockerfile(t).targets()
	files := []string{"README.md", "manifests/README.md", "sidecar/internal/inject/settings.go"}
	err := filepath.WalkDir(filepath.Join(root, "manifests"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range imageRef.FindAllStringSubmatch(string(data), -1) {
			if m[2] == "" && strings.HasSuffix(f, ".md") {
				continue // prose naming the repository, as in "push ghcr.io/loglet/loglet"
			}
			if m[2] == "" && strings.HasPrefix(f, filepath.Join("manifests", "charts")) {
				// The chart's image.tag defaults to its appVersion.
				used[m[1]] = true
				chart, err := os.ReadFile(filepath.Join(root, "manifests", "charts", "loglet", "Chart.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(chart), fmt.Sprintf("appVersion: %q", version)) {
					t.Errorf("%s: %s takes the chart's appVersion, which is not %s (the VERSION file)", f, m[0], version)
				}
				continue
			}
			used[m[1]] = true
			if targets[m[1]] == nil {
				t.Errorf("%s: %s: no Dockerfile target %q builds it", f, m[0], m[1])
			}
			if m[2] != ":"+version {
				t.Errorf("%s: %s: want the tag %s (the VERSION file)", f, m[0], version)
			}
		}
	}
	for name := range targets {
		if !used[name] {
			t.Errorf("Dockerfile target %q: no manifest uses ghcr.io/loglet/%s", name, name)
		}
	}
}

// TestMakeImageBuildsEveryTarget: `make image` builds and tags each
// Dockerfile target with the version, and push and kind-load take the same
// names.
func TestMakeImageBuildsEveryTarget(t *testing.T) {
	root := moduleRoot(t)
	var want []string
	for name := range readDockerfile(t).targets() {
		want = append(want, name)
	}
	slices.Sort(want)
	for _, goal := range []string{"image", "push", "kind-load"} {
		cmd := exec.Command("make", "-n", "-s", goal, "VERSION=9.8.7", "REGISTRY=registry.example/team")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s: %v\n%s", goal, err, out)
		}
		var got []string
		for _, m := range regexp.MustCompile(`registry\.example/team/([a-z0-9-]+):9\.8\.7`).FindAllStringSubmatch(string(out), -1) {
			got = append(got, m[1])
		}
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("make %s names (-targets +made):\n%s\n%s", goal, diff, out)
		}
		if goal == "image" {
			for _, name := range want {
				if !strings.Contains(string(out), "--target "+name+" -t registry.example/team/"+name+":9.8.7") {
					t.Errorf("make image does not build --target %s as registry.example/team/%s:9.8.7:\n%s", name, name, out)
				}
			}
		}
	}
}

func readDockerfile(t *testing.T) *dockerfile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(moduleRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df, err := parseDockerfile(string(src), nil)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return df
}

// readVersion returns the VERSION file's version.
func readVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(data))
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(v) {
		t.Fatalf("VERSION %q is not a semantic version", v)
	}
	return v
}

// TestDockerfileCheckCatchesRot shows that the recipe checks and the build
// runner fail on the mistakes they exist to catch, using a tiny module
// written here rather than the repository's own commands.
func TestDockerfileCheckCatchesRot(t *testing.T) {
	good := `ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS build
ARG VERSION=dev
ENV CGO_ENABLED=0
RUN go build -trimpath \
      -ldflags="-s -w -X main.version=${VERSION}" -o /out/hello ./cmd/hello
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hello /
USER 65532:65532
ENTRYPOINT ["/hello"]
`
	tests := []struct {
		name, old, new string
		want           []string
	}{
		{"good", "", "", nil},
		{"cgo", "CGO_ENABLED=0", "CGO_ENABLED=1", []string{"./cmd/hello: CGO_ENABLED is \"1\", want 0"}},
		{"no trimpath", "-trimpath", "", []string{"./cmd/hello: no -trimpath"}},
		{"no version", " -X main.version=${VERSION}", "", []string{"./cmd/hello: -ldflags \"-s -w\" do not set main.version from the VERSION build arg"}},
		{"fat base", "gcr.io/distroless/static-debian12:nonroot", "debian:12", []string{`final stage is "debian:12", want gcr.io/distroless/static* or scratch`}},
		{"root", "USER 65532:65532", "USER root", []string{`final stage runs as "root", want a non-root numeric user`}},
		{"no user", "USER 65532:65532\n", "", []string{`final stage runs as "", want a non-root numeric user`}},
		{"not copied", "COPY --from=build /out/hello /", "", []string{"/out/hello is built but not copied into any image", `final stage: entrypoint ["/hello"] is not a binary copied into it`}},
		{"no entrypoint", `ENTRYPOINT ["/hello"]`, "", []string{`final stage: entrypoint [] is not a binary copied into it`}},
		{"root target", "FROM gcr.io/distroless/static-debian12:nonroot\n", "FROM gcr.io/distroless/static-debian12:nonroot AS hello\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := parseDockerfile(strings.Replace(good, tt.old, tt.new, 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, checkRecipe(df)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}

	for _, bad := range []string{
		"FROM golang AS build\nRUN go build -o /out/x ./x && echo done\n",
		"FROM golang AS build\nRUN go build -o /out/x \"./x\n",
		"FROM golang AS build\nRUN [\"go\", \"build\", \"./x\"]\n",
		"FROM golang AS build\nRUN go build -o /out/x $(echo ./x)\n",
		"RUN go build ./x\n",
	} {
		if _, err := parseDockerfile(bad, nil); err == nil {
			t.Errorf("parseDockerfile(%q) succeeded, want an error", bad)
		}
	}

	if testing.Short() {
		return
	}
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/hello\n\ngo 1.26\n")
	df, err := parseDockerfile(good, map[string]string{"VERSION": "v9.8.7-rot"})
	if err != nil {
		t.Fatal(err)
	}
	b := df.builds[0]

	write("cmd/hello/main.go", "package main\n\nvar version = \"dev\"\n\nfunc main() { println(version) }\n")
	bin, err := b.run(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := checkBinary(bin, "v9.8.7-rot"); err != nil {
		t.Errorf("binary with main.version: %v", err)
	}

	// -X silently does nothing when main has no version variable.
	write("cmd/hello/main.go", "package main\n\nfunc main() {}\n")
	if bin, err = b.run(dir, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := checkBinary(bin, "v9.8.7-rot"); err == nil {
		t.Error("binary without main.version passed checkBinary")
	}

	write("cmd/hello/main.go", "package main\n\nfunc main() { undefined() }\n")
	if _, err := b.run(dir, t.TempDir()); err == nil {
		t.Error("a failing go build succeeded")
	}
}

// dockerfile is the part of a Dockerfile these tests understand.
type dockerfile struct {
	builds []goBuild // the build stages' RUN go build commands, in order
	stages []*stage  // every stage, in order; the last is the default target
}

// stage is one FROM ... [AS name] section.
type stage struct {
	name       string   // the AS name, "" if none
	from       string   // the base image
	user       string   // the last USER, "" if none
	copied     []string // sources of COPY --from=...
	entrypoint []string // ENTRYPOINT in exec form
	builds     bool     // it runs go build (a build stage, not an image)
}

// targets returns the image stages (those that build nothing), by name.
func (df *dockerfile) targets() map[string]*stage {
	out := map[string]*stage{}
	for _, st := range df.stages {
		if !st.builds {
			out[st.name] = st
		}
	}
	return out
}

// goBuild is one `RUN go build` line, with its stage's environment.
type goBuild struct {
	env  []string // the stage's ENV, then the command's own VAR=value prefixes
	args []string // go's arguments, starting with "build"
	out  string   // the -o path
	pkg  string   // the package built
}

// parseDockerfile reads src, expanding ${NAME} from ARG defaults overridden by
// buildArgs and from ENV. Build args docker sets itself (TARGETOS and the like)
// are empty, so the commands build for the machine running the test.
func parseDockerfile(src string, buildArgs map[string]string) (*dockerfile, error) {
	df := &dockerfile{}
	global := map[string]string{}
	var vars map[string]string // the current stage's ARG and ENV values
	var env []string
	var cur *stage
	stages := 0
	arg := func(scope map[string]string, decl string) {
		name, def, _ := strings.Cut(decl, "=")
		if v, ok := buildArgs[name]; ok {
			def = v
		} else if v, ok := global[name]; ok && scope != nil && def == "" {
			def = v
		}
		if scope == nil {
			global[name] = def
		} else {
			scope[name] = def
		}
	}

	src = strings.ReplaceAll(src, "\\\n", " ")
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		rest = strings.TrimSpace(rest)
		fail := func(format string, a ...any) error {
			return fmt.Errorf("line %d: %s: %s", n+1, instr, fmt.Sprintf(format, a...))
		}
		if stages == 0 && instr != "FROM" && instr != "ARG" {
			return nil, fail("before the first FROM")
		}
		switch instr {
		case "ARG":
			words, err := shellWords(rest, vars)
			if err != nil {
				return nil, fail("%v", err)
			}
			for _, w := range words {
				if stages == 0 {
					arg(nil, w)
				} else {
					arg(vars, w)
				}
			}
		case "FROM":
			words, err := shellWords(rest, global)
			if err != nil {
				return nil, fail("%v", err)
			}
			for len(words) > 0 && strings.HasPrefix(words[0], "--") {
				words = words[1:]
			}
			if len(words) == 0 {
				return nil, fail("no image")
			}
			stages++
			vars, env = map[string]string{}, nil
			cur = &stage{from: words[0]}
			if len(words) == 3 && strings.EqualFold(words[1], "AS") {
				cur.name = words[2]
			}
			df.stages = append(df.stages, cur)
		case "ENV":
			words, err := shellWords(rest, vars)
			if err != nil {
				return nil, fail("%v", err)
			}
			if len(words) == 2 && !strings.Contains(words[0], "=") {
				words = []string{words[0] + "=" + words[1]}
			}
			for _, w := range words {
				k, v, ok := strings.Cut(w, "=")
				if !ok {
					return nil, fail("%q is not NAME=value", w)
				}
				vars[k] = v
				env = append(env, w)
			}
		case "USER":
			cur.user = rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &cur.entrypoint); err != nil {
				return nil, fail("want the exec form: %v", err)
			}
		case "COPY":
			words, err := shellWords(rest, vars)
			if err != nil {
				return nil, fail("%v", err)
			}
			if len(words) > 0 && strings.HasPrefix(words[0], "--from=") {
				var srcs []string
				for _, w := range words[1 : len(words)-1] {
					if !strings.HasPrefix(w, "--") {
						srcs = append(srcs, w)
					}
				}
				cur.copied = append(cur.copied, srcs...)
			}
		case "RUN":
			if strings.HasPrefix(rest, "[") {
				return nil, fail("exec form is not supported here; use the shell form")
			}
			words, err := shellWords(rest, vars)
			if err != nil {
				return nil, fail("%v", err)
			}
			for len(words) > 0 && strings.HasPrefix(words[0], "--") {
				words = words[1:] // --mount=... and the like
			}
			b := goBuild{env: append([]string(nil), env...)}
			for len(words) > 0 && isAssignment(words[0]) {
				b.env = append(b.env, words[0])
				words = words[1:]
			}
			if len(words) < 2 || words[0] != "go" || words[1] != "build" {
				continue
			}
			b.args = words[1:]
			for i := 1; i < len(b.args); i++ {
				a := b.args[i]
				switch {
				case a == "-o" && i+1 < len(b.args):
					b.out = b.args[i+1]
					i++
				case strings.HasPrefix(a, "-o="):
					b.out = strings.TrimPrefix(a, "-o=")
				case !strings.HasPrefix(a, "-"):
					if b.pkg != "" {
						return nil, fail("go build of more than one package")
					}
					b.pkg = a
				}
			}
			if b.out == "" || b.pkg == "" {
				return nil, fail("go build needs -o PATH and one package")
			}
			df.builds = append(df.builds, b)
			cur.builds = true
		}
	}
	if stages == 0 {
		return nil, errors.New("no FROM")
	}
	return df, nil
}

// checkRecipe lists what is wrong with the image recipe.
func checkRecipe(df *dockerfile) []string {
	var problems []string
	if len(df.builds) == 0 {
		problems = append(problems, "no RUN go build")
	}
	for _, b := range df.builds {
		env := map[string]string{}
		for _, kv := range b.env {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		if v := env["CGO_ENABLED"]; v != "0" {
			problems = append(problems, fmt.Sprintf("%s: CGO_ENABLED is %q, want 0", b.pkg, v))
		}
		var trim bool
		var ldflags string
		for i, a := range b.args {
			switch {
			case a == "-trimpath" || a == "-trimpath=true":
				trim = true
			case strings.HasPrefix(a, "-ldflags="):
				ldflags = strings.TrimPrefix(a, "-ldflags=")
			case a == "-ldflags" && i+1 < len(b.args):
				ldflags = b.args[i+1]
			}
		}
		if !trim {
			problems = append(problems, b.pkg+": no -trimpath")
		}
		if !strings.Contains(ldflags, "-X main.version=\x00VERSION\x00") {
			problems = append(problems, fmt.Sprintf("%s: -ldflags %q do not set main.version from the VERSION build arg", b.pkg, unmark(ldflags)))
		}
		found := false
		for _, st := range df.stages {
			found = found || slices.Contains(st.copied, b.out)
		}
		if !found {
			problems = append(problems, b.out+" is built but not copied into any image")
		}
	}
	for _, st := range df.stages {
		if st.builds {
			continue
		}
		what := "final stage"
		if st.name != "" {
			what = fmt.Sprintf("target %q", st.name)
		}
		if !strings.HasPrefix(st.from, "gcr.io/distroless/static") && st.from != "scratch" {
			problems = append(problems, fmt.Sprintf("%s is %q, want gcr.io/distroless/static* or scratch", what, st.from))
		}
		user, _, _ := strings.Cut(st.user, ":")
		if n, err := strconv.Atoi(user); err != nil || n == 0 {
			problems = append(problems, fmt.Sprintf("%s runs as %q, want a non-root numeric user", what, st.user))
		}
		if len(st.entrypoint) == 0 || !slices.ContainsFunc(st.copied, func(c string) bool { return "/"+path.Base(c) == st.entrypoint[0] }) {
			problems = append(problems, fmt.Sprintf("%s: entrypoint %q is not a binary copied into it", what, st.entrypoint))
		}
	}
	return problems
}

// run runs the build in dir with its Dockerfile environment, writing the
// binary into outDir instead of its -o path, and returns the binary's path.
func (b goBuild) run(dir, outDir string) (string, error) {
	bin := filepath.Join(outDir, path.Base(b.out))
	args := make([]string, 0, len(b.args))
	for i := 0; i < len(b.args); i++ {
		a := unmark(b.args[i])
		switch {
		case a == "-o":
			args = append(args, "-o", bin)
			i++
		case strings.HasPrefix(a, "-o="):
			args = append(args, "-o="+bin)
		default:
			args = append(args, a)
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	for _, kv := range b.env {
		cmd.Env = append(cmd.Env, unmark(kv))
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// unmark removes the marker shellWords puts before an expanded VERSION.
func unmark(s string) string {
	return strings.ReplaceAll(s, "\x00VERSION\x00", "")
}

// checkBinary checks that the binary at bin is static, trimmed and carries
// version (which -X writes only when main has a version variable).
func checkBinary(bin, version string) error {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("read build info of %s: %w", bin, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		return fmt.Errorf("%s: built with CGO_ENABLED=%q -trimpath=%q, want 0 and true", bin, settings["CGO_ENABLED"], settings["-trimpath"])
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	if !bytes.Contains(data, []byte(version)) {
		return fmt.Errorf("%s: version %q not embedded (does package main declare `var version string`?)", bin, version)
	}
	return nil
}

// shellWords splits s into words as a POSIX shell would for the simple
// commands a Dockerfile needs: quotes, backslash escapes, and $NAME or ${NAME}
// expanded from vars. The value of an expanded VERSION is wrapped in NUL bytes
// so that checkRecipe can tell where it came from; callers strip them.
// Anything else a shell would interpret is an error.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
			continue
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"' || c == '\'':
			if quote == '"' && c == '"' {
				quote = 0
			} else if quote == 0 {
				quote = c
			} else {
				cur.WriteByte(c)
			}
		case c == '$':
			name, n, err := varName(s[i+1:])
			if err != nil {
				return nil, err
			}
			i += n
			v := vars[name]
			if name == "VERSION" {
				v = "\x00" + name + "\x00" + v
			}
			cur.WriteString(v)
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		case quote == 0 && strings.IndexByte(";&|<>()`", c) >= 0:
			return nil, fmt.Errorf("shell operator %q: keep each command a single simple command", c)
		default:
			cur.WriteByte(c)
		}
		inWord = true
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// varName reads the name after a '$' at the start of s and returns it with
// the number of bytes it took.
func varName(s string) (string, int, error) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 || !isName(s[1:end]) {
			return "", 0, fmt.Errorf("unsupported expansion ${%s", s)
		}
		return s[1:end], end + 1, nil
	}
	n := 0
	for n < len(s) && isName(s[:n+1]) {
		n++
	}
	if n == 0 {
		return "", 0, fmt.Errorf("unsupported expansion $%s", s)
	}
	return s[:n], n, nil
}

func isName(s string) bool {
	for i, c := range s {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	return ok && isName(name)
}

// moduleRoot is the directory holding the repository's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
