package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// peerRsyslog names the rsyslog peer: imfile reads the file, mmjsonparse
// parses each line, omkafka (librdkafka) produces the parsed JSON.
const peerRsyslog = "rsyslog"

// rsyslogModules is where Debian installs rsyslog's modules.
var rsyslogModules = []string{"/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog", "/usr/lib/rsyslog"}

// rsyslog writes an rsyslog configuration that ships the active file of
// logDir to the broker at addr as s says, and returns how to run rsyslogd
// in the foreground with it.
func rsyslog(dir, logDir, addr string, s scenario) (bin string, args, env []string, err error) {
	if s.Files != 1 {
		return "", nil, nil, fmt.Errorf("the rsyslog peer reads one file, not %d", s.Files)
	}
	return rsyslogFiles(dir, []string{filepath.Join(logDir, podName+".log")}, addr, s)
}

// rsyslogFiles is rsyslog for several files, one imfile input each: the
// DaemonSet way, one agent for every pod's file on the node.
func rsyslogFiles(dir string, files []string, addr string, s scenario) (bin string, args, env []string, err error) {
	bin, err = exec.LookPath("rsyslogd")
	if err != nil {
		return "", nil, nil, errors.New("rsyslogd not found: the peer run needs Debian's rsyslog and rsyslog-kafka (apt-get install rsyslog rsyslog-kafka)")
	}
	modDir := ""
	for _, d := range rsyslogModules {
		if _, err := os.Stat(filepath.Join(d, "omkafka.so")); err == nil {
			modDir = d
			break
		}
	}
	if modDir == "" {
		return "", nil, nil, errors.New("rsyslog's omkafka module not found: apt-get install rsyslog-kafka")
	}
	state := filepath.Join(dir, "rsyslog-state")
	if err := os.Mkdir(state, 0o755); err != nil {
		return "", nil, nil, err
	}
	acks := "1"
	if s.Acks == "all" {
		acks = "all"
	}
	var inputs strings.Builder
	for _, f := range files {
		fmt.Fprintf(&inputs, "input(type=\"imfile\" file=%q tag=\"app\" ruleset=\"ship\")\n", f)
	}
	conf := fmt.Sprintf(`global(workDirectory=%q)
module(load="imfile")
module(load="mmjsonparse")
module(load="omkafka")
template(name="json" type="list") { property(name="$!all-json") }
%sruleset(name="ship") {
  action(type="mmjsonparse" cookie="")
  action(type="omkafka" broker=[%q] topic=%q template="json"
         confParam=["compression.codec=%s", "acks=%s"])
}
`, state, inputs.String(), addr, topic, s.Codec, acks)
	path := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", nil, nil, err
	}
	args = []string{"-n", "-f", path, "-i", filepath.Join(dir, "rsyslogd.pid"), "-M", modDir}
	return bin, args, []string{"PATH=" + strings.Join([]string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}, ":")}, nil
}
