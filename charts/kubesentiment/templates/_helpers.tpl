{{/*
Base name of every object. Fixed by default (not derived from the release name): the operator's leader Lease,
the CRD and the APIService exist once per cluster, and operator/deploy/rbac.yaml names the ServiceAccount
kubesentiment-operator.
*/}}
{{- define "kubesentiment.fullname" -}}
{{- default "kubesentiment-operator" .Values.fullnameOverride -}}
{{- end -}}

{{- define "kubesentiment.selectorLabels" -}}
app.kubernetes.io/name: kubesentiment-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubesentiment.labels" -}}
{{ include "kubesentiment.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kubesentiment
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kubesentiment.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kubesentiment.workerImage" -}}
{{- printf "%s:%s" .Values.workerImage.repository (default .Chart.AppVersion .Values.workerImage.tag) -}}
{{- end -}}

{{- define "kubesentiment.metricsApiService" -}}
{{- printf "%s-metrics-api" (include "kubesentiment.fullname" .) -}}
{{- end -}}

{{- define "kubesentiment.metricsApiSecret" -}}
{{- printf "%s-metrics-api-tls" (include "kubesentiment.fullname" .) -}}
{{- end -}}

{{/*
The rules of one Role or ClusterRole in operator/deploy/rbac.yaml (files/rbac.yaml links to it), so the chart
grants exactly what that reviewed file grants and the two cannot drift. Call with (list $ "Kind" "name").
*/}}
{{- define "kubesentiment.rbacRules" -}}
{{- $root := index . 0 -}}
{{- $kind := index . 1 -}}
{{- $name := index . 2 -}}
{{- $found := dict -}}
{{- range $doc := splitList "\n---\n" ($root.Files.Get "files/rbac.yaml") -}}
{{- $object := fromYaml $doc -}}
{{- if and (eq (toString $object.kind) $kind) (eq (dig "metadata" "name" "" $object) $name) -}}
{{- $_ := set $found "rules" $object.rules -}}
{{- end -}}
{{- end -}}
{{- required (printf "files/rbac.yaml (operator/deploy/rbac.yaml) has no %s %s" $kind $name) $found.rules | toYaml -}}
{{- end -}}

{{/*
The rules over pipelines and what the operator owns for them (ClusterRole kubesentiment-operator), with KEDA's
(ClusterRole kubesentiment-operator-keda) when keda.enabled. Takes the root context.
*/}}
{{- define "kubesentiment.pipelineRules" -}}
{{- include "kubesentiment.rbacRules" (list . "ClusterRole" "kubesentiment-operator") }}
{{- if .Values.keda.enabled }}
{{ include "kubesentiment.rbacRules" (list . "ClusterRole" "kubesentiment-operator-keda") }}
{{- end }}
{{- end -}}

{{/*
Restricted pod and container security, shared by the operator and the test hook pod.
*/}}
{{- define "kubesentiment.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
# Mounted Secrets (the metrics API key, mode 0440) belong to this group, so the non-root user can read them.
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kubesentiment.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The metrics API's CA, certificate and key as JSON: the ones in the Secret of an earlier release when there is
one (an upgrade must not re-key the server under the running pods and the APIService), else newly generated.
Generated once per render and kept on the root context, so the Secret, the APIService's caBundle and the pod's
checksum annotation all see the same certificate.
*/}}
{{- define "kubesentiment.metricsApiTls" -}}
{{- if not (hasKey $ "kubesentimentMetricsApiTls") -}}
{{- $secretName := include "kubesentiment.metricsApiSecret" . -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $secretName -}}
{{- $data := dig "data" dict $existing -}}
{{- $tls := dict -}}
{{- if and (hasKey $data "ca.crt") (hasKey $data "tls.crt") (hasKey $data "tls.key") -}}
{{- $tls = dict "ca" (index $data "ca.crt" | b64dec) "crt" (index $data "tls.crt" | b64dec) "key" (index $data "tls.key" | b64dec) -}}
{{- else -}}
{{- $service := include "kubesentiment.metricsApiService" . -}}
{{- $days := int .Values.metricsApi.certificateValidityDays -}}
{{- $ca := genCA "kubesentiment-metrics-api-ca" $days -}}
{{- $names := list $service (printf "%s.%s" $service .Release.Namespace) (printf "%s.%s.svc" $service .Release.Namespace) (printf "%s.%s.svc.cluster.local" $service .Release.Namespace) -}}
{{- $cert := genSignedCert (printf "%s.%s.svc" $service .Release.Namespace) nil $names $days $ca -}}
{{- $tls = dict "ca" $ca.Cert "crt" $cert.Cert "key" $cert.Key -}}
{{- end -}}
{{- $_ := set $ "kubesentimentMetricsApiTls" ($tls | toJson) -}}
{{- end -}}
{{- get $ "kubesentimentMetricsApiTls" -}}
{{- end -}}
