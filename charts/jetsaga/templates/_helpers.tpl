{{/* Names of the umbrella's own components: <release>-nats, <release>-postgres, <release>-tempo, ... */}}
{{- define "jetsaga.component" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jetsaga.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "jetsaga.labels" -}}
{{ include "jetsaga.selectorLabels" . }}
app.kubernetes.io/part-of: jetsaga
app.kubernetes.io/component: {{ .component | default "infrastructure" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The restricted Pod Security profile, for containers the umbrella runs itself. */}}
{{- define "jetsaga.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "jetsaga.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "jetsaga.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/* An image of the umbrella's own components: repository@digest when a digest is set, else repository:tag. */}}
{{- define "jetsaga.imageRef" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}
{{- end -}}

{{/* Pull secrets and priority class of the umbrella's own pods (NATS, Postgres, exporters), from global. */}}
{{- define "jetsaga.podScheduling" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.global.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/*
Alert and recording rules from observability/ (copied to files/generated/observability): every YAML file outside
tests/ that is a PrometheusRule or a plain rule file (`groups:`). Renders a JSON list of {name, groups}.
*/}}
{{- define "jetsaga.ruleFiles" -}}
{{- $found := list -}}
{{- range $path, $_ := .Files.Glob "files/generated/observability/**.yaml" -}}
{{- if not (regexMatch "/tests?/|\\.test\\.ya?ml$" $path) -}}
{{- $doc := fromYaml ($.Files.Get $path) -}}
{{- $groups := list -}}
{{- if and (eq (toString $doc.kind) "PrometheusRule") $doc.spec -}}
{{- $groups = $doc.spec.groups | default list -}}
{{- else if $doc.groups -}}
{{- $groups = $doc.groups -}}
{{- end -}}
{{- if $groups -}}
{{- $found = append $found (dict "name" (base $path | trimSuffix ".yaml" | replace "." "-" | replace "_" "-" | lower) "groups" $groups) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $found -}}
{{- end -}}

{{/* The Secret with the NATS users' passwords (one key per user): yours, or the one the local profile generates. */}}
{{- define "jetsaga.natsAuthSecret" -}}
{{- .Values.global.nats.auth.existingSecret | default (printf "%s-nats-auth" .Release.Name) -}}
{{- end -}}
