{{/* The Secret holding the checkpoint signing key: global.audit.existingSecret, else the one generated here. */}}
{{- define "audit.signingKeySecret" -}}
{{- (dig "audit" "existingSecret" "" (.Values.global | default dict)) | default (printf "%s-audit-signing-key" .Release.Name | trunc 63 | trimSuffix "-") -}}
{{- end -}}

{{- define "audit.signingKeySecretKey" -}}
{{- (dig "audit" "secretKey" "" (.Values.global | default dict)) | default "signing-key" -}}
{{- end -}}
