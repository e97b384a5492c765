{{/*
Names. Every object is "<fullname>-<part>"; fullname is the release name
(truncated to leave room for the longest suffix) unless fullnameOverride is
set. So the default release "modelroute" gives modelroute-controller,
modelroute-webhook, ... as in manifests/rbac/controller.yaml.
*/}}
{{- define "modelroute.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelroute.fullname" -}}
{{- .Values.fullnameOverride | default .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelroute.controllerName" -}}
{{- printf "%s-controller" (include "modelroute.fullname" .) -}}
{{- end -}}

{{- define "modelroute.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "modelroute.controllerName" .) -}}
{{- end -}}

{{/* The webhook contract with the controller: Service "<fullname>-webhook", cert Secret "<fullname>-webhook-cert". */}}
{{- define "modelroute.webhookServiceName" -}}
{{- printf "%s-webhook" (include "modelroute.fullname" .) -}}
{{- end -}}

{{- define "modelroute.webhookCertSecretName" -}}
{{- printf "%s-webhook-cert" (include "modelroute.fullname" .) -}}
{{- end -}}

{{- define "modelroute.gatewayName" -}}
{{- printf "%s-gateway" (include "modelroute.fullname" .) -}}
{{- end -}}

{{- define "modelroute.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Labels shared by every object; the selector labels are the stable subset. */}}
{{- define "modelroute.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "modelroute.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: modelroute
{{- end -}}

{{/* Call with (dict "ctx" $ "component" "controller"). */}}
{{- define "modelroute.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelroute.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "modelroute.componentLabels" -}}
{{ include "modelroute.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The Secret that holds the proxies' admin token, whoever created it. */}}
{{- define "modelroute.adminTokenSecretName" -}}
{{- .Values.adminToken.existingSecret | default (printf "%s-admin-token" (include "modelroute.fullname" .)) -}}
{{- end -}}

{{/*
The admin token, base64-encoded. An upgrade must not change it (every proxy
already running would reject the controller's pushes), so reuse the value in
the cluster when there is one; `helm template` cannot look, and gets a fresh one.
*/}}
{{- define "modelroute.adminTokenB64" -}}
{{- $name := include "modelroute.adminTokenSecretName" . -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- $current := "" -}}
{{- if and $existing $existing.data -}}
{{- $current = index $existing.data .Values.adminToken.key | default "" -}}
{{- end -}}
{{- $current | default (randAlphaNum 48 | b64enc) -}}
{{- end -}}

{{/* Restricted pod security: non-root, no privilege escalation, no capabilities, read-only root. */}}
{{- define "modelroute.podSecurityContext" -}}
runAsNonRoot: true
# The image's `node` user (Dockerfile: USER 1000:1000).
runAsUser: 1000
runAsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "modelroute.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The namespaces whose Secrets the controller reads (platformNamespaces, default the release namespace). */}}
{{- define "modelroute.platformNamespaces" -}}
{{- if .Values.platformNamespaces -}}
{{- join "," .Values.platformNamespaces -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{- define "modelroute.gatewayServiceAccountName" -}}
{{- printf "%s-gateway" (include "modelroute.fullname" .) -}}
{{- end -}}

{{/*
Where the exact-mode quota store URL is (issue 14): existingSecret, or the
Secret the chart makes from quotas.store.url; empty when neither is set.
*/}}
{{- define "modelroute.quotaStoreSecretName" -}}
{{- $q := .Values.quotas.store -}}
{{- if and $q.url $q.existingSecret -}}
{{- fail "quotas.store: set url or existingSecret, not both" -}}
{{- end -}}
{{- if $q.existingSecret -}}
{{- $q.existingSecret -}}
{{- else if $q.url -}}
{{- printf "%s-quota-store" (include "modelroute.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "modelroute.quotaStoreSecretKey" -}}
{{- if .Values.quotas.store.existingSecret -}}{{ .Values.quotas.store.existingSecretKey }}{{- else -}}url{{- end -}}
{{- end -}}
