// Package memlimit sets the Go runtime's soft memory limit from the memory
// limit of the container the sidecar runs in, so that as the sidecar nears
// its limit the garbage collector works harder instead of the kernel
// OOM-killing it. Go follows the container's CPU limit (GOMAXPROCS) by
// itself since Go 1.25, but not its memory limit.
package memlimit
