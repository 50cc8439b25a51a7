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
