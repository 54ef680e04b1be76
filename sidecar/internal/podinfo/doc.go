// Package podinfo reads the pod's identity from the Kubernetes Downward API:
// environment variables for the name, namespace, UID, IP, node and container,
// and the `labels` and `annotations` files of a downwardAPI volume.
//
// The identity is kept as an immutable [Pod] value together with its
// pre-encoded JSON form (the `kubernetes` object of every record), so the
// per-line path copies bytes instead of encoding maps. [Source] re-reads the
// files when the kubelet updates them and publishes a new [Pod] atomically.
//
// Key names follow Fluentd's and Fluent Bit's Kubernetes metadata (pod_name,
// namespace_name, pod_id, pod_ip, host, container_name, labels, annotations),
// so existing consumers and dashboards keep working. Missing values are
// simply absent from the output.
//
// Only the specific names POD_NAME, POD_NAMESPACE, POD_UID and POD_IP are
// read everywhere. The generic HOSTNAME, NODE_NAME and CONTAINER_NAME are
// read only in Kubernetes (KUBERNETES_SERVICE_HOST set, as the kubelet does
// in every container), so a developer's shell does not leak into a dry run.
// [Pod.ExpandStrict] refuses a template placeholder that expands to nothing,
// naming the missing metadata.
package podinfo
