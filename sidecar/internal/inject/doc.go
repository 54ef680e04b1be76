// Package inject is the logic of the loglet-injector mutating admission
// webhook: [Mutate] adds the loglet sidecar, its volumes and the Downward API
// wiring to a pod, and [Handler] serves it as an admission.k8s.io/v1
// AdmissionReview endpoint that answers with a JSON Patch.
//
// Mutate is a pure function of the pod and the [Settings]: it changes a deep
// copy, and the handler computes the patch by diffing the copy against the
// original, so no JSON Pointer path is ever written by hand. A pod that was
// already injected (it carries the annotation loglet.dev/status: injected)
// comes back unchanged, which makes the webhook idempotent under
// reinvocation. A pod that cannot be injected (a name already taken, a bad
// annotation, a log directory that would hide the app's files) is admitted
// unchanged with a warning: the webhook does not block a workload because of
// loglet. The one exception is isolation: a pod whose loglet.dev/topic can
// name a topic outside its namespace is denied (see Settings.AllowAnyTopic
// and Settings.SharedTopicPrefixes for what the cluster may allow).
//
// Which pods are injected is decided by the MutatingWebhookConfiguration's
// selectors (the pod label or the namespace label loglet.dev/inject:
// enabled); the pod annotation loglet.dev/inject: "false" opts a pod out.
// Per-pod annotations:
//
//	loglet.dev/topic         Kafka topic template (LOGLET_KAFKA_TOPIC), WORD.{namespace}[.more]
//	loglet.dev/field-types   pinned field types (LOGLET_FIELD_TYPES), e.g. count=int
//	loglet.dev/log-dir       where the shared volume is mounted (LOGLET_LOG_DIR), not over a system directory
//	loglet.dev/containers    comma-separated app containers that get the volume (default: all)
//	loglet.dev/sidecar-mode  native (an init container with restartPolicy Always) or container
package inject
