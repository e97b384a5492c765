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

{{/* By digest when one is given (every node runs the same bytes), else by tag. */}}
{{- define "modelroute.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
The minimum Kubernetes version, 1.29: native sidecars (restartable init
containers) and the CRDs' CEL validation rules are on by default from there.
It is not Chart.yaml's kubeVersion, because Helm checks that against its
built-in default when it renders without a cluster (v1.20.0 for a helm built
from source), so `helm template` failed for no reason. It is checked here
against what Helm learns from a cluster: `helm install`/`upgrade` read the
API server's version and discovery. Rendering without a cluster, Helm's
default API set holds flowcontrol.apiserver.k8s.io/v1 (served from 1.29 on),
so nothing is refused; a cluster older than 1.29 serves neither.
*/}}
{{- define "modelroute.checkKubeVersion" -}}
{{- $version := .Capabilities.KubeVersion.Version -}}
{{- if and (semverCompare "<1.29.0-0" $version) (not (.Capabilities.APIVersions.Has "flowcontrol.apiserver.k8s.io/v1")) -}}
{{- fail (printf "modelroute needs Kubernetes 1.29 or later (native sidecars, CEL validation in its CRDs); this cluster is %s" $version) -}}
{{- end -}}
{{- end -}}

{{/*
A container's preStop hook that keeps it serving `seconds` more after the pod
is marked for deletion, while its Services drop it. Kubernetes' own sleep
action is on by default only from 1.30, and the image has no shell: node
waits instead (the entrypoint's interpreter, so it is always there).
*/}}
{{- define "modelroute.preStopDelay" -}}
{{- if gt (int .seconds) 0 -}}
lifecycle:
  preStop:
    exec:
      command: [node, -e, "setTimeout(() => {}, {{ mul (int .seconds) 1000 }})"]
{{- end -}}
{{- end -}}

{{/*
`helm upgrade --reuse-values` renders this chart with the previous chart's
defaults in place of this one's, so values added since (security contexts,
the drain delays) would be silently absent, e.g. pods without their security
context. A key every version of values.yaml from now on sets, and that no one
has a reason to null, tells (it catches values reused from chart 0.1.0; when a
later chart adds values its templates cannot do without, check one of those too).
*/}}
{{- define "modelroute.checkValuesComplete" -}}
{{- if not (hasKey .Values.controller "terminationGracePeriodSeconds") -}}
{{- fail "values lack controller.terminationGracePeriodSeconds, which this chart's values.yaml sets: were an older chart's values reused (helm upgrade --reuse-values)? Upgrade with --reset-then-reuse-values, or with -f and your own values file" -}}
{{- end -}}
{{- end -}}

{{/* Fails unless the grace period outlasts the preStop delay (the kubelet counts the hook in it). */}}
{{- define "modelroute.checkGracePeriod" -}}
{{- if and (gt (int .values.preStopDelaySeconds) 0) (le (int .values.terminationGracePeriodSeconds) (int .values.preStopDelaySeconds)) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%d) must be longer than %s.preStopDelaySeconds (%d): the kubelet kills the container when the grace period ends, preStop delay included" .name (int .values.terminationGracePeriodSeconds) .name (int .values.preStopDelaySeconds)) -}}
{{- end -}}
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

{{/* The controller generates the token (and owns its Secret) unless the user names a Secret. */}}
{{- define "modelroute.controllerMakesAdminToken" -}}
{{- if not .Values.adminToken.existingSecret -}}true{{- end -}}
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

{{/*
The OTEL_* variables of a modelroute container (issue 16), or nothing when
telemetry.otlp.endpoint is empty. Called with (dict "root" $ "prefix" P
"pod" BOOL): prefix MODELROUTE_SIDECAR_ names the controller's copies for the
sidecars it injects (which add their pod's name and namespace themselves, and
take the headers Secret by flag); pod adds k8s.* attributes from the
container's POD_NAME and POD_NAMESPACE, which must come first in its env.
*/}}
{{- define "modelroute.otelEnv" -}}
{{- $t := .root.Values.telemetry -}}
{{- $p := .prefix -}}
{{- if $t.otlp.endpoint }}
- name: {{ $p }}OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $t.otlp.endpoint | quote }}
- name: {{ $p }}OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $t.otlp.protocol | quote }}
- name: {{ $p }}OTEL_TRACES_SAMPLER
  value: {{ $t.sampler | quote }}
{{- with $t.samplerArg | toString }}
- name: {{ $p }}OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
- name: {{ $p }}OTEL_METRICS_EXPORTER
  value: {{ ternary "otlp" "none" (ne $t.metrics false) | quote }}
{{- $attrs := list -}}
{{- if .pod -}}
{{- $attrs = append $attrs "k8s.namespace.name=$(POD_NAMESPACE)" -}}
{{- $attrs = append $attrs "k8s.pod.name=$(POD_NAME)" -}}
{{- end -}}
{{- range $k, $v := $t.resourceAttributes -}}
{{- $attrs = append $attrs (printf "%s=%s" $k (toString $v)) -}}
{{- end -}}
{{- if $attrs }}
- name: {{ $p }}OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end }}
{{- if and (not $p) $t.otlp.headersSecret.name }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ $t.otlp.headersSecret.name }}
      key: {{ $t.otlp.headersSecret.key }}
{{- end }}
{{- end }}
{{- end -}}
