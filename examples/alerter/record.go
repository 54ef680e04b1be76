package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// record is the part of a loglet record the alerter reads.
type record struct {
	Timestamp  string         `json:"@timestamp"`
	Level      string         `json:"level"`
	Msg        string         `json:"msg"`
	Fields     map[string]any `json:"fields"`
	Kubernetes struct {
		PodName       string `json:"pod_name"`
		NamespaceName string `json:"namespace_name"`
		ContainerName string `json:"container_name"`
		Host          string `json:"host"`
	} `json:"kubernetes"`
}

// decodeRecord parses one Kafka record value.
func decodeRecord(value []byte) (record, error) {
	var r record
	if err := json.Unmarshal(value, &r); err != nil {
		return record{}, fmt.Errorf("not a loglet record: %w", err)
	}
	if r.Level == "" && r.Msg == "" {
		return record{}, errors.New("not a loglet record: no level and no msg")
	}
	return r, nil
}

// alertLevels are the levels, lower case, at or above error in logrus, slog,
// syslog and the usual logging libraries.
var alertLevels = map[string]bool{
	"error": true, "err": true, "fatal": true, "panic": true, "critical": true,
	"crit": true, "alert": true, "emerg": true, "emergency": true, "severe": true,
}

// reason says why r deserves an alert, or "" if it does not.
func (r record) reason() string {
	if alertLevels[strings.ToLower(strings.TrimSpace(r.Level))] {
		return "level " + strings.ToLower(strings.TrimSpace(r.Level))
	}
	msg := strings.ToLower(r.Msg)
	switch {
	case strings.Contains(msg, "exception"):
		return "mentions an exception"
	case strings.Contains(msg, "panic"):
		return "mentions a panic"
	}
	return ""
}

// pod is the rate limiter's key for r's pod: namespace/name.
func (r record) pod() string {
	return r.Kubernetes.NamespaceName + "/" + r.Kubernetes.PodName
}

// source says where in Kafka a record was read.
type source struct {
	Topic     string
	Partition int
	Offset    int64
}

// maxQuoted is how many characters of a message an alert quotes.
const maxQuoted = 2000

// alertText is the Slack message (mrkdwn) for r: what, where, the message
// quoted, and how many alerts for the same pod the rate limit dropped since
// the last one.
func alertText(r record, reason string, src source, suppressed int) string {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	var b strings.Builder
	level := strings.ToUpper(or(r.Level, "log"))
	fmt.Fprintf(&b, ":rotating_light: *%s* in pod `%s` (namespace `%s`, container `%s`, node `%s`)",
		slackEscape(level), slackEscape(or(r.Kubernetes.PodName, "?")), slackEscape(or(r.Kubernetes.NamespaceName, "?")),
		slackEscape(or(r.Kubernetes.ContainerName, "?")), slackEscape(or(r.Kubernetes.Host, "?")))
	if !strings.HasPrefix(reason, "level ") {
		b.WriteString(": message " + reason)
	}
	b.WriteString("\n```\n" + slackEscape(quote(or(r.Msg, "(no message)"))) + "\n```")
	if e, ok := r.Fields["error"].(string); ok && e != "" {
		b.WriteString("\nerror: `" + slackEscape(strings.ReplaceAll(quote(e), "`", "'")) + "`")
	}
	fmt.Fprintf(&b, "\n%s · %s partition %d offset %d", slackEscape(or(r.Timestamp, "no time")), slackEscape(src.Topic), src.Partition, src.Offset)
	if suppressed > 0 {
		fmt.Fprintf(&b, "\n_%d earlier alert(s) from this pod were not sent (rate limit)._", suppressed)
	}
	return b.String()
}

// quote shortens s to maxQuoted characters and keeps it from closing the
// code block it is quoted in.
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxQuoted {
		n := 0
		for i := range s {
			if n == maxQuoted {
				s = s[:i] + "…"
				break
			}
			n++
		}
	}
	return strings.ReplaceAll(s, "```", "'''")
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string { return slackEscaper.Replace(s) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
