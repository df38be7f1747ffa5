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

{{- define "gpumgmt.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* The scrape job names alerts/gpu-alerts.yml expects (up{job="gpu-exporter"}). */}}
{{- define "gpumgmt.jobLabelKey" -}}k8s-gpu-management/scrape-job{{- end }}

{{- define "gpumgmt.adminKeySecret" -}}
{{- default (printf "%s-admin-key" (include "gpumgmt.fullname" .)) .Values.analytics.adminApiKey.existingSecret }}
{{- end }}

{{- define "gpumgmt.analytics.serviceAccount" -}}
{{- include "gpumgmt.fullname" . }}
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
