{{/*
Names and labels shared by every jetsaga chart. A service chart is installed on its own or as a subchart of the
umbrella chart; either way its objects are called <release>-<chart>, so the umbrella's peers can be addressed as
"{{ .Release.Name }}-order" without knowing how the release was composed.
*/}}
{{- define "jetsaga-lib.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jetsaga-lib.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "jetsaga-lib.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "jetsaga-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jetsaga-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "jetsaga-lib.labels" -}}
{{ include "jetsaga-lib.selectorLabels" . }}
app.kubernetes.io/part-of: jetsaga
app.kubernetes.io/component: {{ .Values.component | default "service" }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* A value from the chart, else the umbrella's global, else a default; strings go through tpl. */}}
{{- /* repository:tag, or repository@digest when a digest is given (what runs is then fixed by content). */}}
{{- define "jetsaga-lib.image" -}}
{{- $global := (.Values.global | default dict).image | default dict -}}
{{- $repository := .Values.image.repository | default $global.repository | default "jetsaga" -}}
{{- $tag := .Values.image.tag | default $global.tag | default .Chart.AppVersion -}}
{{- $digest := .Values.image.digest | default $global.digest | default "" -}}
{{- if $digest -}}
{{- printf "%s@%s" $repository $digest -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "jetsaga-lib.imagePullSecrets" -}}
{{- $secrets := .Values.imagePullSecrets | default (.Values.global | default dict).imagePullSecrets -}}
{{- with $secrets -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{- define "jetsaga-lib.priorityClassName" -}}
{{- .Values.priorityClassName | default (.Values.global | default dict).priorityClassName | default "" -}}
{{- end -}}

{{- define "jetsaga-lib.pullPolicy" -}}
{{- $global := (.Values.global | default dict).image | default dict -}}
{{- .Values.image.pullPolicy | default $global.pullPolicy | default "IfNotPresent" -}}
{{- end -}}

{{- define "jetsaga-lib.natsUrl" -}}
{{- $global := (.Values.global | default dict).nats | default dict -}}
{{- tpl (.Values.nats.url | default $global.url | default "nats://{{ .Release.Name }}-nats:4222") . -}}
{{- end -}}

{{/*
The Secret with this service's own DATABASE_URL (its own role: docs/operations.md, Postgres): the chart's
database.existingSecret, else global.database.existingSecrets.<service>, else <release>-<service>-database (what the
umbrella writes for its in-chart Postgres). No Secret is shared between services; global.database.existingSecret is
the backup's (every schema), never a service's.
*/}}
{{- define "jetsaga-lib.databaseSecret" -}}
{{- $global := (.Values.global | default dict).database | default dict -}}
{{- $byService := $global.existingSecrets | default dict -}}
{{- tpl (.Values.database.existingSecret | default (get $byService .Values.service) | default (printf "%s-%s-database" .Release.Name .Values.service)) . -}}
{{- end -}}

{{- define "jetsaga-lib.databaseSecretKey" -}}
{{- $global := (.Values.global | default dict).database | default dict -}}
{{- .Values.database.secretKey | default $global.secretKey | default "url" -}}
{{- end -}}

{{- define "jetsaga-lib.otlpEndpoint" -}}
{{- $global := (.Values.global | default dict).otlp | default dict -}}
{{- tpl (.Values.otlp.endpoint | default $global.endpoint | default "") . -}}
{{- end -}}

{{/* true when the chart or the umbrella turns the feature on ("feature" is a key with an "enabled" field). */}}
{{- define "jetsaga-lib.enabled" -}}
{{- $root := index . 0 -}}
{{- $feature := index . 1 -}}
{{- $local := index $root.Values $feature | default dict -}}
{{- $global := index ($root.Values.global | default dict) $feature | default dict -}}
{{- if hasKey $local "enabled" -}}
{{- if $local.enabled }}true{{ end -}}
{{- else if $global.enabled -}}
true
{{- end -}}
{{- end -}}

{{/*
The AUTH_* variables of a service: the issuer whose bearer tokens it accepts on /api/* (README, Security). Each value
is the chart's own, else global.auth's. A service without an issuer would refuse to start: the render fails instead.
*/}}
{{- define "jetsaga-lib.authEnv" -}}
{{- $auth := .Values.auth | default dict -}}
{{- if not (and (hasKey $auth "enabled") (not $auth.enabled)) -}}
{{- $global := (.Values.global | default dict).auth | default dict -}}
{{- $issuer := $auth.issuer | default $global.issuer -}}
{{- if not $issuer -}}
{{- /* A chart installed alone on a laptop cluster trusts npm start's development issuer, as the umbrella's local profile does. */ -}}
{{- if eq ((.Values.global | default dict).profile | default "local") "local" -}}
{{- $issuer = "http://127.0.0.1:8079" -}}
{{- else -}}
{{- fail (printf "%s: auth.issuer (or global.auth.issuer) is required: the issuer of the bearer tokens every /api route needs" .Values.service) -}}
{{- end -}}
{{- end }}
- name: AUTH_ISSUER
  value: {{ tpl $issuer . | quote }}
- name: AUTH_AUDIENCE
  value: {{ $auth.audience | default $global.audience | default "jetsaga" | quote }}
{{- with ($auth.jwksUri | default $global.jwksUri) }}
- name: AUTH_JWKS_URL
  value: {{ tpl . $ | quote }}
{{- end }}
{{- $secret := $auth.existingSecret | default $global.existingSecret -}}
{{- if $secret }}
- name: AUTH_JWKS
  valueFrom:
    secretKeyRef:
      name: {{ tpl $secret . }}
      key: {{ $auth.jwksKey | default $global.jwksKey | default "jwks.json" }}
{{- else }}
{{- with ($auth.jwks | default $global.jwks) }}
- name: AUTH_JWKS
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
A process's own credential for calling the API (the operator's, for the event store's /api/projections): a bearer
token mounted from a Secret as a file (re-read on each call), or OAuth2 client credentials against a token endpoint.
*/}}
{{- define "jetsaga-lib.apiTokenEnv" -}}
{{- $token := .Values.apiToken | default dict -}}
{{- if $token.tokenUrl }}
- name: OPERATOR_OIDC_TOKEN_URL
  value: {{ tpl $token.tokenUrl . | quote }}
- name: OPERATOR_OIDC_CLIENT_ID
  value: {{ required "apiToken.clientId is required with apiToken.tokenUrl" $token.clientId | quote }}
- name: OPERATOR_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ tpl (required "apiToken.existingSecret (the client secret) is required with apiToken.tokenUrl" $token.existingSecret) . }}
      key: {{ $token.clientSecretKey | default "client-secret" }}
- name: OPERATOR_OIDC_SCOPE
  value: {{ $token.scope | default "jetsaga:admin" | quote }}
{{- with $token.audience }}
- name: OPERATOR_OIDC_AUDIENCE
  value: {{ . | quote }}
{{- end }}
{{- else if $token.existingSecret }}
- name: OPERATOR_API_BEARER_FILE
  value: {{ printf "/var/run/secrets/jetsaga/api/%s" ($token.tokenKey | default "token") | quote }}
{{- end }}
{{- end -}}

{{/* The NATS user a workload connects as: its service's own, the admin for the operator (it alone manages streams). */}}
{{- define "jetsaga-lib.natsUser" -}}
{{- ternary "admin" .Values.service (eq .Values.service "operator") -}}
{{- end -}}

{{/* The NATS users' Secret (global.nats.auth.existingSecret, else the umbrella's generated <release>-nats-auth). */}}
{{- define "jetsaga-lib.natsAuthSecret" -}}
{{- $global := (.Values.global | default dict).nats | default dict -}}
{{- (($global.auth | default dict).existingSecret) | default (printf "%s-nats-auth" .Release.Name) -}}
{{- end -}}

{{/* The master key of customers' data keys (ADR 0052): global.gdpr.existingSecret, else the umbrella's generated <release>-gdpr. */}}
{{- define "jetsaga-lib.gdprSecret" -}}
{{- $global := (.Values.global | default dict).gdpr | default dict -}}
{{- $global.existingSecret | default (printf "%s-gdpr" .Release.Name) -}}
{{- end -}}

{{- define "jetsaga-lib.gdprSecretKey" -}}
{{- $global := (.Values.global | default dict).gdpr | default dict -}}
{{- $global.secretKey | default "master-key" -}}
{{- end -}}

{{/* TLS to NATS: the Secret whose ca.crt the workload verifies the servers by, or empty without TLS. */}}
{{- define "jetsaga-lib.natsTlsSecret" -}}
{{- $tls := ((.Values.global | default dict).nats | default dict).tls | default dict -}}
{{- if $tls.enabled }}{{ required "global.nats.tls.existingSecret: the Secret with the NATS servers' ca.crt" $tls.existingSecret }}{{ end -}}
{{- end -}}
