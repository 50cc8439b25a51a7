{{/*
Everything a jetsaga service chart renders: `{{ include "jetsaga-lib.service" . }}` is the whole of its templates.
*/}}
{{- define "jetsaga-lib.service" -}}
{{ include "jetsaga-lib.serviceAccount" . }}
---
{{ include "jetsaga-lib.deployment" . }}
---
{{ include "jetsaga-lib.k8sService" . }}
{{- if .Values.podDisruptionBudget.enabled }}
---
{{ include "jetsaga-lib.pdb" . }}
{{- end }}
{{- if .Values.autoscaling.enabled }}
---
{{ include "jetsaga-lib.hpa" . }}
{{- end }}
{{- if include "jetsaga-lib.enabled" (list . "serviceMonitor") }}
---
{{ include "jetsaga-lib.serviceMonitor" . }}
{{- end }}
{{- if include "jetsaga-lib.enabled" (list . "networkPolicy") }}
---
{{ include "jetsaga-lib.networkPolicy" . }}
{{- end }}
{{- end -}}

{{- define "jetsaga-lib.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "jetsaga-lib.fullname" . }}
  labels:
    {{- include "jetsaga-lib.labels" . | nindent 4 }}
# Only the operator talks to the Kubernetes API; every other pod runs without a token.
automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
{{- end -}}

{{- define "jetsaga-lib.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "jetsaga-lib.fullname" . }}
  labels:
    {{- include "jetsaga-lib.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "jetsaga-lib.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "jetsaga-lib.labels" . | nindent 8 }}
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "jetsaga-lib.fullname" . }}
      automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
      {{- with include "jetsaga-lib.imagePullSecrets" . }}
      imagePullSecrets:
        {{- . | nindent 8 }}
      {{- end }}
      {{- with include "jetsaga-lib.priorityClassName" . }}
      priorityClassName: {{ . }}
      {{- end }}
      # Long enough for runService to stop accepting, finish in-flight handlers, drain NATS and close pools.
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- tpl (toYaml .) $ | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ include "jetsaga-lib.name" . }}
          image: {{ include "jetsaga-lib.image" . | quote }}
          imagePullPolicy: {{ include "jetsaga-lib.pullPolicy" . }}
          {{- $nodeArgs := .Values.nodeArgs | default ((.Values.global | default dict).nodeArgs) | default list }}
          {{- /* As `npm start` does: the OpenTelemetry SDK is preloaded whenever an OTLP endpoint is configured. */}}
          {{- $env := .Values.env | default dict }}
          {{- $preload := list }}
          {{- if or (include "jetsaga-lib.otlpEndpoint" .) (hasKey $env "OTEL_EXPORTER_OTLP_ENDPOINT") (hasKey $env "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") }}
          {{- $preload = list "--import" "./packages/platform/dist/register.js" }}
          {{- end }}
          command: {{ concat (list "node") $nodeArgs $preload (list (printf "services/%s/dist/main.js" .Values.service)) | toJson }}
          env:
            - name: HOST
              value: "0.0.0.0"
            - name: PORT
              value: {{ .Values.ports.http | quote }}
            - name: METRICS_PORT
              value: {{ .Values.ports.metrics | quote }}
            - name: LOG_LEVEL
              value: {{ .Values.logLevel | quote }}
            {{- /* After SIGTERM, as long again as the pre-stop sleep, the server keeps serving and every answer says Connection: close: a client's idle keep-alive connection carries one more request and closes, or expires on the client's side, before the server closes it (closing idle connections at once raced clients reusing them: 502s and resets in the cluster's rollout test). */}}
            - name: SHUTDOWN_DELAY_MS
              value: {{ mul (int (.Values.preStopSleepSeconds | default 0)) 1000 | quote }}
            {{- /* SIGTERM comes after the pre-stop sleep: the drain gets what is left of the grace period after the shutdown delay, less 10 s for consumers, NATS and the pools (ADR 0055). */}}
            - name: DRAIN_TIMEOUT_MS
              value: {{ mul (max 1 (sub (sub (int .Values.terminationGracePeriodSeconds) (mul 2 (int (.Values.preStopSleepSeconds | default 0)))) 10)) 1000 | quote }}
            - name: OTEL_SERVICE_NAME
              value: {{ .Values.service | quote }}
            {{- with include "jetsaga-lib.otlpEndpoint" . }}
            - name: OTEL_EXPORTER_OTLP_ENDPOINT
              value: {{ . | quote }}
            {{- end }}
            {{- if .Values.nats.enabled }}
            - name: NATS_URL
              value: {{ include "jetsaga-lib.natsUrl" . | quote }}
            # No anonymous NATS: this service's own user (the operator's is the admin), its password from the Secret.
            - name: NATS_USER
              value: {{ include "jetsaga-lib.natsUser" . | quote }}
            - name: NATS_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ include "jetsaga-lib.natsAuthSecret" . }}
                  key: {{ include "jetsaga-lib.natsUser" . }}
            {{- if include "jetsaga-lib.natsTlsSecret" . }}
            - name: NATS_TLS_CA
              value: /etc/nats-ca/ca.crt
            {{- end }}
            {{- end }}
            {{- if .Values.database.enabled }}
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "jetsaga-lib.databaseSecret" . }}
                  key: {{ include "jetsaga-lib.databaseSecretKey" . }}
            - name: DB_POOL_MAX
              value: {{ .Values.database.poolMax | quote }}
            # Every service with a database seals (and may open) personal data with customers' data keys, which
            # this master key wraps (ADR 0052).
            - name: KEY_ENCRYPTION_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ include "jetsaga-lib.gdprSecret" . }}
                  key: {{ include "jetsaga-lib.gdprSecretKey" . }}
            {{- end }}
            {{- with include "jetsaga-lib.authEnv" . | trim }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with include "jetsaga-lib.apiTokenEnv" . | trim }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- range $name, $value := .Values.env }}
            - name: {{ $name }}
              value: {{ tpl (toString $value) $ | quote }}
            {{- end }}
            {{- /* Credentials from Secrets (SMTP, signing keys, webhook tokens); an entry whose Secret name renders empty is left out. */}}
            {{- range $name, $ref := .Values.secretEnv | default dict }}
            {{- with tpl (toString $ref.secret) $ }}
            - name: {{ $name }}
              valueFrom:
                secretKeyRef:
                  name: {{ . | quote }}
                  key: {{ tpl (toString $ref.key) $ | quote }}
                  {{- if $ref.optional }}
                  optional: true
                  {{- end }}
            {{- end }}
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: http
              containerPort: {{ .Values.ports.http }}
              protocol: TCP
            - name: metrics
              containerPort: {{ .Values.ports.metrics }}
              protocol: TCP
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 2
            failureThreshold: {{ .Values.probes.startupFailureThreshold }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: {{ .Values.probes.readinessPeriodSeconds | default 5 }}
            timeoutSeconds: {{ .Values.probes.readinessTimeoutSeconds | default 3 }}
            failureThreshold: {{ .Values.probes.readinessFailureThreshold | default 2 }}
          {{- with .Values.preStopSleepSeconds }}
          # Endpoints and load balancers stop sending new requests a moment after the pod is marked terminating:
          # keep serving that long before SIGTERM starts the drain (terminationGracePeriodSeconds covers both).
          lifecycle:
            preStop:
              sleep:
                seconds: {{ . }}
          {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            # The root filesystem is read-only; Node and its libraries may still want a scratch directory.
            - name: tmp
              mountPath: /tmp
            {{- with (.Values.apiToken | default dict).existingSecret }}
            - name: api-token
              mountPath: /var/run/secrets/jetsaga/api
              readOnly: true
            {{- end }}
            {{- if and .Values.nats.enabled (include "jetsaga-lib.natsTlsSecret" .) }}
            - name: nats-ca
              mountPath: /etc/nats-ca
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- with (.Values.apiToken | default dict).existingSecret }}
        # The process's own credential for the API of the others (the operator's, for the event store).
        - name: api-token
          secret:
            secretName: {{ tpl . $ }}
            defaultMode: 0400
        {{- end }}
        {{- if and .Values.nats.enabled (include "jetsaga-lib.natsTlsSecret" .) }}
        - name: nats-ca
          secret:
            secretName: {{ include "jetsaga-lib.natsTlsSecret" . }}
            items: [{ key: ca.crt, path: ca.crt }]
        {{- end }}
{{- end -}}

{{- define "jetsaga-lib.k8sService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "jetsaga-lib.fullname" . }}
  labels:
    {{- include "jetsaga-lib.labels" . | nindent 4 }}
spec:
  type: {{ .Values.serviceType }}
  selector:
    {{- include "jetsaga-lib.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.ports.http }}
      targetPort: http
      protocol: TCP
    - name: metrics
      port: {{ .Values.ports.metrics }}
      targetPort: metrics
      protocol: TCP
{{- end -}}

{{- define "jetsaga-lib.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "jetsaga-lib.fullname" . }}
  labels:
    {{- include "jetsaga-lib.labels" . | nindent 4 }}
spec:
  {{- if hasKey .Values.podDisruptionBudget "minAvailable" }}
  minAvailable: {{ .Values.podDisruptionBudget.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "jetsaga-lib.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "jetsaga-lib.hpa" -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "jetsaga-lib.fullname" . }}
  labels:
    {{- include "jetsaga-lib.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "jetsaga-lib.fullname" . }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}
{{- end -}}

{{- define "jetsaga-lib.serviceMonitor" -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "jetsaga-lib.fullname" . }}
  labels:
    {{- include "jetsaga-lib.labels" . | nindent 4 }}
    {{- with .Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "jetsaga-lib.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: metrics
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval | default "15s" }}
{{- end -}}

{{/*
Default deny, then exactly what the service needs: its callers on `http`, Prometheus on `metrics`; out to DNS,
NATS, Postgres, the trace collector and the services it calls. Peers are selected by their chart name.
*/}}
{{- define "jetsaga-lib.networkPolicy" -}}
{{- $np := .Values.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "jetsaga-lib.fullname" . }}
  labels:
    {{- include "jetsaga-lib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "jetsaga-lib.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- /* An empty `from` would admit everyone: with no callers, there is no rule for `http` at all. */}}
    {{- if or $np.allowAllIngress $np.ingressFrom }}
    - ports:
        - port: http
          protocol: TCP
      {{- if not $np.allowAllIngress }}
      from:
        {{- range $np.ingressFrom }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ . }}
              app.kubernetes.io/instance: {{ $.Release.Name }}
        {{- end }}
      {{- end }}
    {{- end }}
    - ports:
        - port: metrics
          protocol: TCP
      from:
        {{- toYaml $np.metricsFrom | nindent 8 }}
    {{- with $np.extraIngress }}
    {{- /* Callers outside the release, e.g. a cluster's Alertmanager in its own namespace. */}}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
  egress:
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    {{- if .Values.nats.enabled }}
    - ports:
        - port: 4222
          protocol: TCP
      to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: nats
              app.kubernetes.io/instance: {{ .Release.Name }}
    {{- end }}
    {{- if .Values.database.enabled }}
    - ports:
        - port: 5432
          protocol: TCP
      {{- with $np.databaseTo }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- else }}
      to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: postgres
              app.kubernetes.io/instance: {{ .Release.Name }}
      {{- end }}
    {{- end }}
    {{- if include "jetsaga-lib.otlpEndpoint" . }}
    {{- $otlpTo := .Values.otlp.egressTo | default ((.Values.global | default dict).otlp | default dict).egressTo }}
    - ports:
        - port: 4317
          protocol: TCP
        - port: 4318
          protocol: TCP
      to:
        {{- if $otlpTo }}
        {{- /* The collector's own namespace and pods, e.g. a namespaceSelector for `observability`. */}}
        {{- toYaml $otlpTo | nindent 8 }}
        {{- else }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: tempo
        {{- end }}
    {{- end }}
    {{- range $peer := $np.egressTo }}
    - ports:
        - port: http
          protocol: TCP
      to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ $peer }}
              app.kubernetes.io/instance: {{ $.Release.Name }}
    {{- end }}
    {{- with $np.extraEgress }}
    {{- /* Through tpl: a peer may name the release, e.g. its Mailpit. */}}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
{{- end -}}
