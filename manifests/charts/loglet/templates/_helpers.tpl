{{/* The objects' name: <release>-injector, or fullnameOverride. */}}
{{- define "loglet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-injector" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* What the pods are selected by. app.kubernetes.io/name is that of manifests/injector. */}}
{{- define "loglet.selectorLabels" -}}
app.kubernetes.io/name: loglet-injector
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The labels of every object. */}}
{{- define "loglet.labels" -}}
{{ include "loglet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The injector's image. */}}
{{- define "loglet.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The sidecars' image: sidecar.image, defaulting to the injector's. */}}
{{- define "loglet.sidecarImage" -}}
{{- $repo := .Values.sidecar.image.repository | default .Values.image.repository -}}
{{- $tag := .Values.sidecar.image.tag | default (.Values.image.tag | default .Chart.AppVersion) -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{/* The Service's DNS names, which the serving certificate holds. */}}
{{- define "loglet.dnsNames" -}}
{{- $svc := printf "%s.%s.svc" (include "loglet.fullname" .) .Release.Namespace -}}
{{- list $svc (printf "%s.cluster.local" $svc) | toJson -}}
{{- end -}}

{{/*
The certificate source, auto resolved: cert-manager where the cluster (or
`helm template --api-versions cert-manager.io/v1`) serves cert-manager.io/v1.
*/}}
{{- define "loglet.certSource" -}}
{{- $s := .Values.certificates.source -}}
{{- if eq $s "auto" -}}
{{- if .Capabilities.APIVersions.Has "cert-manager.io/v1" -}}cert-manager{{- else -}}helm{{- end -}}
{{- else -}}
{{- $s -}}
{{- end -}}
{{- end -}}

{{/* Checks across values that the schema cannot express clearly. */}}
{{- define "loglet.validate" -}}
{{- if not (or .Values.selection.pods .Values.selection.namespaces) -}}
{{- fail "selection.pods and selection.namespaces are both false: the webhook would inject no pod" -}}
{{- end -}}
{{- if and .Values.kafka.saslMechanism (not .Values.kafka.secret) -}}
{{- fail "kafka.saslMechanism needs kafka.secret (the Secret holding username and password)" -}}
{{- end -}}
{{- if and .Values.kafka.clientCert (not (and .Values.kafka.secret .Values.kafka.tls)) -}}
{{- fail "kafka.clientCert needs kafka.secret (holding tls.crt and tls.key) and kafka.tls: true" -}}
{{- end -}}
{{- end -}}
