{{/* The Lease the operator's replicas elect a leader with: one per release, so releases never share a leader. */}}
{{- define "jetsaga-operator.leaseName" -}}
{{- .Values.leaseName | default (include "jetsaga-lib.fullname" .) -}}
{{- end -}}
