// Command demo shows loglet's whole path on one machine with nothing but Go
// installed. `make demo` builds it with bin/loglet and examples/counter and
// runs it.
//
// It starts, in this order:
//
//   - an in-process Kafka-protocol broker (kfake) on a free local port, with
//     the topic logs.demo; or, when LOGLET_KAFKA_BROKERS is set, it uses that
//     cluster instead (plaintext; the topic is created on the first record if
//     the cluster allows it, and only records produced from now on are shown);
//   - a temporary directory standing in for the pod: volume/ is the emptyDir
//     the app and the sidecar share, podinfo/ holds the Downward API files
//     labels and annotations of a made-up pod, demo/counter-7d9c5-x2x4z;
//   - a consumer, in this process, that reads the topic with kafka-go and
//     prints every record as it arrives: the first one in full, then one line
//     each, its level coloured on a terminal and plain when piped (or when
//     NO_COLOR is set);
//   - the real forwarder, bin/loglet, tailing volume/ and producing to the
//     broker, its own logs in loglet.log beside volume/ (warnings and errors
//     are also shown on stderr);
//   - the example app, bin/counter, logging through applib into volume/.
//
// It then tells the person what runs where and runs until Ctrl-C (SIGINT),
// SIGTERM or SIGHUP. Stopping goes in the order a pod stops: the app first
// (it logs "stopping"), then loglet (it ships what is left and saves its
// checkpoint), then the consumer, once it printed everything in the topic,
// then the broker; last, the temporary directory is removed. A second Ctrl-C
// kills what still runs at once. The children run in process groups of their
// own so that a terminal's Ctrl-C reaches only the demo, which stops them in
// that order; on Linux they are also killed if the demo itself is killed.
//
// Variables from the environment reach loglet and the app, so for example
// LOGLET_KAFKA_COMPRESSION=zstd make demo tries another codec; the demo sets
// the ones that describe its pod and directory, and defaults a few others for
// snappy output (LOGLET_POLL_INTERVAL=100ms, LOGLET_KAFKA_LINGER=5ms,
// LOGLET_FIELD_TYPES=count=int,latency_ms=float).
//
// Usage:
//
//	demo [-loglet bin/loglet] [-counter bin/counter] [-interval 1s] [-error-every 5]
package main
