package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// errKind is a class of delivery error: the label of
// loglet_kafka_send_errors_total. A fatal kind is one retrying alone will not
// fix (the operator must act): it is logged as an error and fails Ready until
// a request succeeds. Every kind is retried: records are never dropped.
type errKind struct {
	name  string
	fatal bool
}

var (
	kindNetwork        = errKind{"network", false}          // connection refused, reset, closed
	kindTimeout        = errKind{"timeout", false}          // no answer in time
	kindLeader         = errKind{"leader", false}           // partition leader moved or unknown
	kindBroker         = errKind{"broker", false}           // another error Kafka calls retriable
	kindOther          = errKind{"other", false}            // an error of no known class
	kindAuthentication = errKind{"authentication", true}    // SASL failed
	kindAuthorization  = errKind{"authorization", true}     // ACLs deny the topic or the cluster
	kindTLS            = errKind{"tls", true}               // certificate not trusted, handshake refused
	kindTopicMissing   = errKind{"topic_missing", true}     // topic does not exist, auto-creation off
	kindTooLarge       = errKind{"message_too_large", true} // a single record over the broker's limit
	kindBadTopic       = errKind{"invalid_topic", true}     // the topic name is refused
	kindRejected       = errKind{"rejected", true}          // another non-retriable broker error
)

var kinds = []errKind{kindNetwork, kindTimeout, kindLeader, kindBroker, kindOther,
	kindAuthentication, kindAuthorization, kindTLS, kindTopicMissing, kindTooLarge, kindBadTopic, kindRejected}

const kindList = "network, timeout, leader, broker, other; non-retriable: authentication, authorization, tls, topic_missing, message_too_large, invalid_topic, rejected"

// classify returns the kind of a delivery error.
func classify(err error) errKind {
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		switch kerr {
		case kafka.SASLAuthenticationFailed, kafka.UnsupportedSASLMechanism, kafka.IllegalSASLState:
			return kindAuthentication
		case kafka.TopicAuthorizationFailed, kafka.ClusterAuthorizationFailed, kafka.TransactionalIDAuthorizationFailed:
			return kindAuthorization
		case kafka.UnknownTopicOrPartition:
			return kindTopicMissing
		case kafka.MessageSizeTooLarge, kafka.RecordListTooLarge:
			return kindTooLarge
		case kafka.InvalidTopic:
			return kindBadTopic
		case kafka.NotLeaderForPartition, kafka.LeaderNotAvailable, kafka.FencedLeaderEpoch,
			kafka.UnknownLeaderEpoch, kafka.PreferredLeaderNotAvailable, kafka.NotController:
			return kindLeader
		case kafka.RequestTimedOut:
			return kindTimeout
		}
		if kerr.Temporary() {
			return kindBroker
		}
		return kindRejected
	}
	if errors.Is(err, protocol.ErrNoTopic) || errors.Is(err, protocol.ErrNoPartition) || errors.Is(err, protocol.ErrNoLeader) {
		return kindLeader // the cached metadata is behind
	}
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		verify     *tls.CertificateVerificationError
		alert      tls.AlertError
		recordHdr  tls.RecordHeaderError
		netErr     net.Error
		opErr      *net.OpError
		tlsErrText = strings.Contains(err.Error(), "tls: ")
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &alert), errors.As(err, &recordHdr), tlsErrText:
		return kindTLS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return kindTimeout
	case errors.As(err, &netErr) && netErr.Timeout():
		return kindTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed),
		errors.As(err, &opErr):
		return kindNetwork
	}
	return kindOther
}
