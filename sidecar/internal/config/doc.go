// Package config reads the loglet sidecar's configuration from the
// environment into one typed [Config], validates it, and describes every
// variable for `loglet -h`.
//
// Every problem is reported at once, each naming its variable and the
// accepted forms, before the sidecar touches any file: the syntax of every
// variable, unknown LOGLET_* variables (with a "did you mean"), and what
// can be checked on the machine by reading only: the log dir, the templates
// expanded with the pod's metadata, the Kafka output's secret files, and the
// HTTP address, which [Load] binds. An empty value means the default,
// except LOGLET_HTTP_ADDR, where it disables the server.
package config
