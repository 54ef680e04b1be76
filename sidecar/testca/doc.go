// Package testca makes throwaway certificate authorities for tests: a CA
// valid for a day, its PEM and pool, and certificates it signs for
// 127.0.0.1 and localhost, as the TLS tests of the sidecar's Kafka output,
// the injector, the end-to-end tests and the examples need them.
//
// It is a package of its own, outside internal/, so that integration/ and
// examples/ can use it too; nothing but tests imports it.
package testca
