{{/* Names, labels and shared fragments of the chart. */}}

{{- define "gpumgmt.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name prefix. A release named like the chart (the documented install) keeps the bare
name, so the analytics Deployment is `deployment/k8s-gpu-management`.
*/}}
{{- define "gpumgmt.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gpumgmt.exporter.fullname" -}}
{{- printf "%s-exporter" (include "gpumgmt.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gpumgmt.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "gpumgmt.labels" -}}
helm.sh/chart: {{ include "gpumgmt.chart" . }}
app.kubernetes.io/name: {{ include "gpumgmt.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: k8s-gpu-management
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: pass (dict "root" $ "component" "exporter"). */}}
{{- define "gpumgmt.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gpumgmt.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of monitoring objects: the chart's plus monitoring.additionalLabels. */}}
{{- define "gpumgmt.monitoringLabels" -}}
{{ include "gpumgmt.labels" . }}
{{- with .Values.monitoring.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}


{{/* The scrape job names alerts/gpu-alerts.yml expects (up{job="gpu-exporter"}). */}}
{{- define "gpumgmt.jobLabelKey" -}}k8s-gpu-management/scrape-job{{- end }}

{{- define "gpumgmt.adminKeySecret" -}}
{{- default (printf "%s-admin-key" (include "gpumgmt.fullname" .)) .Values.analytics.adminApiKey.existingSecret }}
{{- end }}

{{/* image reference, with global.imageRegistry before the repository when set. */}}
{{- define "gpumgmt.image" -}}
{{- $registry := "" }}
{{- with .root.Values.global }}{{ $registry = .imageRegistry | default "" }}{{ end }}
{{- $repository := .image.repository }}
{{- if $registry }}{{ $repository = printf "%s/%s" (trimSuffix "/" $registry) $repository }}{{ end }}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* imagePullSecrets of a pod spec: the chart's and global.imagePullSecrets. */}}
{{- define "gpumgmt.imagePullSecrets" -}}
{{- $secrets := concat (.Values.imagePullSecrets | default list) ((.Values.global | default dict).imagePullSecrets | default list) | uniq }}
{{- with $secrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Name of a component's ServiceAccount: pass (dict "root" $ "component" "exporter"). The
configured name, else the chart's name for the component when it creates one, else `default`.
*/}}
{{- define "gpumgmt.serviceAccountName" -}}
{{- $sa := (index .root.Values .component).serviceAccount }}
{{- $own := ternary (include "gpumgmt.exporter.fullname" .root) (include "gpumgmt.fullname" .root) (eq .component "exporter") }}
{{- default (ternary $own "default" $sa.create) $sa.name }}
{{- end }}

{{/* "true" when the exporter calls the Kubernetes API (it lists the pods of its node). */}}
{{- define "gpumgmt.exporter.usesApi" -}}
{{- if .Values.exporter.kubernetesApi }}true{{ end }}
{{- end }}

{{/*
"true" when the analytics service calls the Kubernetes API: MIG apply (node labels and the
mig-parted ConfigMap) and the in-cluster JWKS of the service-account issuer.
*/}}
{{- define "gpumgmt.analytics.usesApi" -}}
{{- if or .Values.analytics.migApply.enabled .Values.analytics.auth.oidc.inClusterJwks }}true{{ end }}
{{- end }}

{{/* A component's ServiceAccount object: pass (dict "root" $ "component" "analytics"). */}}
{{- define "gpumgmt.serviceAccount" -}}
{{- $sa := (index .root.Values .component).serviceAccount }}
{{- if $sa.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "gpumgmt.serviceAccountName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "gpumgmt.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  {{- with $sa.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
# Pods that call the API opt in on their own spec; no other pod gets a token.
automountServiceAccountToken: false
{{- end }}
{{- end }}

{{/*
Environment of the analytics container: GPU_ANALYTICS_*. Pass (dict "root" $ "migrate" false);
the migration Job (migrate true) runs before the chart's admin key Secret exists and needs
neither it nor Prometheus.
*/}}
{{- define "gpumgmt.analytics.env" -}}
{{- $a := .root.Values.analytics -}}
{{- $serve := not .migrate -}}
- name: GPU_ANALYTICS_DATA_DIR
  value: {{ $a.dataDir | quote }}
{{- if eq $a.database.type "postgresql" }}
- name: GPU_ANALYTICS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "analytics.database.postgresql.existingSecret is required with database.type postgresql" $a.database.postgresql.existingSecret }}
      key: {{ $a.database.postgresql.urlKey }}
{{- end }}
{{- if $a.auth.secretsKey.name }}
- name: GPU_ANALYTICS_SECRETS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $a.auth.secretsKey.name }}
      key: {{ $a.auth.secretsKey.key }}
{{- end }}
{{- if $a.auth.secretsKeyPrevious.name }}
- name: GPU_ANALYTICS_SECRETS_KEY_PREVIOUS
  valueFrom:
    secretKeyRef:
      name: {{ $a.auth.secretsKeyPrevious.name }}
      key: {{ $a.auth.secretsKeyPrevious.key }}
{{- end }}
{{- if $serve }}
- name: GPU_ANALYTICS_PROMETHEUS_URL
  value: {{ $a.prometheus.url | quote }}
- name: GPU_ANALYTICS_PROMETHEUS_TIMEOUT_SECONDS
  value: {{ $a.prometheus.timeoutSeconds | quote }}
{{- if ne $a.prometheus.flavor "prometheus" }}
- name: GPU_ANALYTICS_PROMETHEUS_FLAVOR
  value: {{ $a.prometheus.flavor | quote }}
{{- end }}
{{- with $a.prometheus.orgId }}
- name: GPU_ANALYTICS_PROMETHEUS_ORG_ID
  value: {{ . | quote }}
{{- end }}
{{- if $a.prometheus.bearerTokenSecret.name }}
- name: GPU_ANALYTICS_PROMETHEUS_BEARER_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $a.prometheus.bearerTokenSecret.name }}
      key: {{ $a.prometheus.bearerTokenSecret.key }}
{{- end }}
- name: GPU_ANALYTICS_ADMIN_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "gpumgmt.adminKeySecret" .root }}
      key: {{ $a.adminApiKey.key }}
- name: GPU_ANALYTICS_ANONYMOUS_READ
  value: {{ $a.anonymousRead | quote }}
{{- if $a.auth.jwtSecret.name }}
- name: GPU_ANALYTICS_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $a.auth.jwtSecret.name }}
      key: {{ $a.auth.jwtSecret.key }}
{{- end }}
- name: GPU_ANALYTICS_JWT_LIFETIME_SECONDS
  value: {{ $a.auth.tokenLifetimeSeconds | quote }}
- name: GPU_ANALYTICS_LOGIN_FAILURES_PER_USER
  value: {{ $a.auth.loginFailures.perUser | quote }}
- name: GPU_ANALYTICS_LOGIN_FAILURES_PER_ADDRESS
  value: {{ $a.auth.loginFailures.perAddress | quote }}
- name: GPU_ANALYTICS_LOGIN_FAILURE_WINDOW_SECONDS
  value: {{ $a.auth.loginFailures.windowSeconds | quote }}
{{- with $a.auth.oidc }}
{{- if .issuer }}
- name: GPU_ANALYTICS_OIDC_ISSUER
  value: {{ .issuer | quote }}
- name: GPU_ANALYTICS_OIDC_JWKS_URL
  value: {{ required "analytics.auth.oidc.jwksUrl is required with an issuer" .jwksUrl | quote }}
- name: GPU_ANALYTICS_OIDC_AUDIENCE
  value: {{ required "analytics.auth.oidc.audience is required with an issuer" .audience | quote }}
- name: GPU_ANALYTICS_OIDC_ROLE_CLAIM
  value: {{ .roleClaim | quote }}
{{- if .roleMap }}
- name: GPU_ANALYTICS_OIDC_ROLE_MAP
  value: {{ include "gpumgmt.priceOverrides" .roleMap | quote }}
{{- end }}
- name: GPU_ANALYTICS_OIDC_DEFAULT_ROLE
  value: {{ .defaultRole | quote }}
- name: GPU_ANALYTICS_OIDC_USERNAME_CLAIM
  value: {{ .usernameClaim | quote }}
{{- with .teamClaim }}
- name: GPU_ANALYTICS_OIDC_TEAM_CLAIM
  value: {{ . | quote }}
{{- end }}
{{- if .inClusterJwks }}
- name: GPU_ANALYTICS_OIDC_JWKS_CA_FILE
  value: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
- name: GPU_ANALYTICS_OIDC_JWKS_TOKEN_FILE
  value: /var/run/secrets/kubernetes.io/serviceaccount/token
{{- end }}
{{- end }}
{{- end }}
- name: GPU_ANALYTICS_SYNC_INTERVAL_SECONDS
  value: {{ $a.syncIntervalSeconds | quote }}
- name: GPU_ANALYTICS_LIVE_VIEW_SECONDS
  value: {{ $a.liveViewSeconds | quote }}
- name: GPU_ANALYTICS_RATE_LIMIT_ENABLED
  value: {{ $a.rateLimit.enabled | quote }}
- name: GPU_ANALYTICS_RATE_LIMIT_STORAGE
  value: {{ if eq $a.database.type "postgresql" }}database{{ else }}file{{ end }}
- name: GPU_ANALYTICS_RATE_LIMIT_ANONYMOUS_PER_MINUTE
  value: {{ $a.rateLimit.anonymousPerMinute | quote }}
- name: GPU_ANALYTICS_RATE_LIMIT_AUTHENTICATED_PER_MINUTE
  value: {{ $a.rateLimit.authenticatedPerMinute | quote }}
- name: GPU_ANALYTICS_RATE_LIMIT_BATCH_PER_MINUTE
  value: {{ $a.rateLimit.batchPerMinute | quote }}
- name: GPU_ANALYTICS_TRUSTED_PROXIES
  value: {{ $a.trustedProxies | quote }}
{{- end }}
- name: GPU_ANALYTICS_MIG_PRICING
  value: {{ $a.migPricing | quote }}
- name: GPU_ANALYTICS_MIG_ON_DEMAND
  value: {{ $a.migOnDemand | quote }}
{{- if $a.migApply.enabled }}
- name: GPU_ANALYTICS_MIG_APPLY
  value: "true"
- name: GPU_ANALYTICS_MIG_CONFIG_MAP
  value: {{ $a.migApply.configMap | quote }}
{{- end }}
{{- if $a.priceOverrides }}
- name: GPU_ANALYTICS_PRICE_OVERRIDES
  value: {{ include "gpumgmt.priceOverrides" $a.priceOverrides | quote }}
{{- end }}
- name: GPU_ANALYTICS_LOG_LEVEL
  value: {{ $a.logLevel | quote }}
{{- with $a.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* {A100_80GB: 2.5, H100_80GB: 4} as A100_80GB=2.5,H100_80GB=4 (keys sorted). */}}
{{- define "gpumgmt.priceOverrides" -}}
{{- $items := list }}
{{- range $model, $price := . }}
{{- $items = append $items (printf "%s=%v" $model $price) }}
{{- end }}
{{- join "," $items }}
{{- end }}

{{/*
The exporter's probe handler: GET /healthz (HTTPS under a TLS web config), or a TCP connect when
the web config's basic auth covers /healthz (exporter.webConfig.tcpProbes).
*/}}
{{- define "gpumgmt.exporter.probe" -}}
{{- $web := .Values.exporter.webConfig }}
{{- if and $web.existingSecret $web.tcpProbes }}
tcpSocket:
  port: metrics
{{- else }}
httpGet:
  path: /healthz
  port: metrics
  {{- if and $web.existingSecret $web.tls }}
  scheme: HTTPS
  {{- end }}
{{- end }}
{{- end }}

{{/* Scheme, tlsConfig and basicAuth of the exporter's scrape endpoint (exporter.webConfig). */}}
{{- define "gpumgmt.endpointSecurity" -}}
{{- if and .scheme (ne .scheme "http") }}
scheme: {{ .scheme }}
{{- end }}
{{- with .tlsConfig }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .basicAuth }}
basicAuth:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* relabelings and metricRelabelings of a scrape endpoint. */}}
{{- define "gpumgmt.relabelings" -}}
{{- with .relabelings }}
relabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
