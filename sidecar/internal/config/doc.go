// Package config reads the loglet sidecar's configuration from the
// environment into one typed [Config], validates it, and describes every
// variable for `loglet -h`.
//
// Every problem is reported at once, each naming its variable, before the
// sidecar touches any file.
package config
