{{/*
Names, labels and the pieces every component's pod shares.

Components are addressed by their key in values.yaml: "gateway", "decoderWorker", "eventWorker";
their resource suffix is "gateway", "decoder-worker", "event-worker".
*/}}

{{- define "astra.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "astra.fullname" -}}
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

{{- define "astra.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "decoderWorker" -> "decoder-worker" */}}
{{- define "astra.componentSlug" -}}
{{- if eq . "decoderWorker" }}decoder-worker{{- else if eq . "eventWorker" }}event-worker{{- else }}{{ . }}{{- end }}
{{- end }}

{{/* Name of a component's resources. Args: dict "root" $ "component" "gateway" */}}
{{- define "astra.componentName" -}}
{{- $full := include "astra.fullname" .root }}
{{- $slug := include "astra.componentSlug" .component }}
{{- printf "%s-%s" ($full | trunc (int (sub 62 (len $slug)))) $slug | trimSuffix "-" }}
{{- end }}

{{- define "astra.labels" -}}
helm.sh/chart: {{ include "astra.chart" . }}
app.kubernetes.io/name: {{ include "astra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: astra
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Args: dict "root" $ "component" "gateway" */}}
{{- define "astra.componentLabels" -}}
{{ include "astra.labels" .root }}
app.kubernetes.io/component: {{ include "astra.componentSlug" .component }}
{{- end }}

{{/* Args: dict "root" $ "component" "gateway" */}}
{{- define "astra.selectorLabels" -}}
app.kubernetes.io/name: {{ include "astra.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ include "astra.componentSlug" .component }}
{{- end }}

{{- define "astra.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "astra.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference of a component. Args: dict "root" $ "component" "gateway" */}}
{{- define "astra.image" -}}
{{- $c := index .root.Values .component }}
{{- $registry := .root.Values.global.imageRegistry }}
{{- $repo := $c.image.repository }}
{{- if $registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" $registry) $repo }}{{ end }}
{{- if $c.image.digest }}
{{- printf "%s@%s" $repo $c.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $c.image.tag | toString) }}
{{- end }}
{{- end }}

{{/* Name of the Secret holding the NATS credentials file ("" when there is none). */}}
{{- define "astra.natsCredsSecret" -}}
{{- with .Values.nats.credentials }}
{{- if .existingSecret }}{{ .existingSecret }}{{ else if .creds }}{{ include "astra.fullname" $ }}-nats-creds{{ end }}
{{- end }}
{{- end }}

{{/*
Environment every service reads with the same value: NATS connection, stream replicas,
logging, tracing.
*/}}
{{- define "astra.commonEnv" -}}
- name: ASTRA_NATS_URL
  value: {{ required "nats.url is required" .Values.nats.url | quote }}
- name: ASTRA_STREAM_REPLICAS
  value: {{ .Values.nats.streamReplicas | quote }}
{{- /* One partition count per cluster, for every service: the gateway's ASTRA_RAW stores
     frames by partition, decoder- and event-workers divide the partitions by lease. */}}
- name: ASTRA_PARTITIONS
  value: {{ .Values.eventWorker.partitions | quote }}
{{- if include "astra.natsCredsSecret" . }}
- name: ASTRA_NATS_CREDS
  value: /etc/astra/nats-creds/{{ .Values.nats.credentials.key }}
{{- end }}
{{- if .Values.nats.tls.ca.existingSecret }}
- name: ASTRA_NATS_TLS_CA
  value: /etc/astra/nats-tls-ca/{{ .Values.nats.tls.ca.key }}
{{- end }}
{{- if .Values.nats.tls.client.existingSecret }}
- name: ASTRA_NATS_TLS_CERT
  value: /etc/astra/nats-tls-client/tls.crt
- name: ASTRA_NATS_TLS_KEY
  value: /etc/astra/nats-tls-client/tls.key
{{- end }}
{{- if .Values.nats.tls.required }}
- name: ASTRA_NATS_REQUIRE_TLS
  value: "true"
{{- end }}
- name: RUST_LOG
  value: {{ .Values.logging.level | quote }}
{{- if .Values.logging.json }}
- name: ASTRA_LOG_JSON
  value: "true"
{{- end }}
{{- with .Values.tracing.otlpEndpoint }}
- name: ASTRA_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
Environment every service reads under the same names (the configuration rule: ASTRA_ + the long
flag in upper snake case, the same in every service): its instance id, the pod name (the
gateway id in RawFrames and sessions, the decoder's instance header, the event-worker's lease
owner in KV astra-partitions: unique and stable for the pod's life); its admin and gRPC
addresses from `ports`; and the bearer token of its gRPC API from its own Secret, when one is
named. Args: dict "root" $ "component" "gateway"
*/}}
{{- define "astra.serviceEnv" -}}
{{- $c := index .root.Values .component -}}
- name: ASTRA_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: ASTRA_ADMIN_ADDR
  value: "0.0.0.0:{{ $c.ports.admin }}"
- name: ASTRA_GRPC_ADDR
  value: "0.0.0.0:{{ $c.ports.grpc }}"
{{- with $c.grpcToken.existingSecret }}
- name: ASTRA_GRPC_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $c.grpcToken.key }}
{{- end }}
{{- end }}

{{/* Volumes every pod gets: /tmp, and the NATS credentials and certificates when set. */}}
{{- define "astra.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- with include "astra.natsCredsSecret" . }}
- name: nats-creds
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- with .Values.nats.tls.ca.existingSecret }}
- name: nats-tls-ca
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- with .Values.nats.tls.client.existingSecret }}
- name: nats-tls-client
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{- define "astra.commonVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "astra.natsCredsSecret" . }}
- name: nats-creds
  mountPath: /etc/astra/nats-creds
  readOnly: true
{{- end }}
{{- if .Values.nats.tls.ca.existingSecret }}
- name: nats-tls-ca
  mountPath: /etc/astra/nats-tls-ca
  readOnly: true
{{- end }}
{{- if .Values.nats.tls.client.existingSecret }}
- name: nats-tls-client
  mountPath: /etc/astra/nats-tls-client
  readOnly: true
{{- end }}
{{- end }}

{{/*
Pod template annotations: config checksum (a config change rolls the pods), Prometheus scrape
hints, user annotations. Args: dict "root" $ "component" "gateway"
*/}}
{{- define "astra.podAnnotations" -}}
{{- $c := index .root.Values .component -}}
checksum/config: {{ toJson (dict "config" $c.config "nats" .root.Values.nats "logging" .root.Values.logging) | sha256sum | trunc 16 }}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ $c.ports.admin | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with $c.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
topologySpreadConstraints of a component; a constraint without a labelSelector gets the
component's selector labels. Args: dict "root" $ "component" "gateway"
*/}}
{{- define "astra.topologySpread" -}}
{{- $c := index .root.Values .component -}}
{{- $sel := include "astra.selectorLabels" . | fromYaml }}
{{- range $c.topologySpreadConstraints }}
{{- $tsc := deepCopy . }}
{{- if not (hasKey $tsc "labelSelector") }}
{{- $_ := set $tsc "labelSelector" (dict "matchLabels" $sel) }}
{{- end }}
- {{ toYaml $tsc | nindent 2 | trim }}
{{- end }}
{{- end }}

{{/*
Everything of a pod spec after the containers that the components share.
Args: dict "root" $ "component" "gateway"
*/}}
{{- define "astra.podCommon" -}}
{{- $c := index .root.Values .component -}}
serviceAccountName: {{ include "astra.serviceAccountName" .root }}
automountServiceAccountToken: {{ .root.Values.serviceAccount.automountToken }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with $c.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (include "astra.topologySpread" . | trim) }}
topologySpreadConstraints:
  {{- . | nindent 2 }}
{{- end }}
volumes:
  {{- include "astra.commonVolumes" .root | nindent 2 }}
  {{- with $c.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
The parts of the main container the components share: image, security context, config env,
probes, resources, mounts. Args: dict "root" $ "component" "gateway"
*/}}
{{- define "astra.containerCommon" -}}
{{- $c := index .root.Values .component -}}
image: {{ include "astra.image" . | quote }}
imagePullPolicy: {{ $c.image.pullPolicy }}
securityContext:
  {{- toYaml .root.Values.securityContext | nindent 2 }}
envFrom:
  - configMapRef:
      name: {{ include "astra.componentName" . }}
  {{- with $c.extraEnvFrom }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
livenessProbe:
  httpGet:
    path: /healthz
    port: admin
  {{- toYaml $c.livenessProbe | nindent 2 }}
readinessProbe:
  httpGet:
    path: /readyz
    port: admin
  {{- toYaml $c.readinessProbe | nindent 2 }}
{{- with $c.startupProbe }}
startupProbe:
  httpGet:
    path: /healthz
    port: admin
  {{- toYaml . | nindent 2 }}
{{- end }}
resources:
  {{- toYaml $c.resources | nindent 2 }}
volumeMounts:
  {{- include "astra.commonVolumeMounts" .root | nindent 2 }}
  {{- with $c.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* ConfigMap of a component's `config` map (environment). Args: dict "root" $ "component" "gateway" */}}
{{- define "astra.configMap" -}}
{{- $c := index .root.Values .component }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "astra.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "astra.componentLabels" . | nindent 4 }}
{{- $data := dict }}
{{- range $k, $v := $c.config }}
{{- if kindIs "float64" $v }}
{{- /* YAML numbers arrive as float64: print integers in full (1000000, not 1e+06). */}}
{{- if eq $v (float64 (int64 $v)) }}{{ $v = int64 $v }}{{ end }}
{{- end }}
{{- if not (kindIs "invalid" $v) }}
{{- $_ := set $data $k (toString $v) }}
{{- end }}
{{- end }}
{{- if $data }}
data:
  {{- range $k, $v := $data }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
{{- else }}
data: {}
{{- end }}
{{- end }}

{{/* PodDisruptionBudget. Args: dict "root" $ "component" "gateway" */}}
{{- define "astra.pdb" -}}
{{- $c := index .root.Values .component }}
{{- if $c.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "astra.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "astra.componentLabels" . | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" $c.pdb.minAvailable) }}
  minAvailable: {{ $c.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $c.pdb.maxUnavailable | default 1 }}
  {{- end }}
  {{- with $c.pdb.unhealthyPodEvictionPolicy }}
  unhealthyPodEvictionPolicy: {{ . }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "astra.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{/* HorizontalPodAutoscaler (autoscaling/v2). Args: dict "root" $ "component" "gateway" */}}
{{- define "astra.hpa" -}}
{{- $c := index .root.Values .component }}
{{- if $c.autoscaling.enabled }}
{{- if and (not $c.autoscaling.targetCPUUtilizationPercentage) (not $c.autoscaling.targetMemoryUtilizationPercentage) }}
{{- fail (printf "%s.autoscaling: set targetCPUUtilizationPercentage and/or targetMemoryUtilizationPercentage" .component) }}
{{- end }}
{{- if and $c.autoscaling.targetCPUUtilizationPercentage (not (dig "requests" "cpu" "" $c.resources)) }}
{{- fail (printf "%s.autoscaling on CPU needs %s.resources.requests.cpu (utilisation is measured against the request)" .component .component) }}
{{- end }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "astra.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "astra.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "astra.componentName" . }}
  minReplicas: {{ $c.autoscaling.minReplicas }}
  maxReplicas: {{ $c.autoscaling.maxReplicas }}
  metrics:
    {{- with $c.autoscaling.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- with $c.autoscaling.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
  {{- with $c.autoscaling.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* ClusterIP Service for admin HTTP and gRPC. Args: dict "root" $ "component" "gateway" */}}
{{- define "astra.internalService" -}}
{{- $c := index .root.Values .component }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "astra.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "astra.componentLabels" . | nindent 4 }}
    astra/endpoint: admin
  {{- with $c.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: ClusterIP
  selector:
    {{- include "astra.selectorLabels" . | nindent 4 }}
  ports:
    - name: admin
      port: {{ $c.ports.admin }}
      targetPort: admin
      protocol: TCP
      appProtocol: http
    {{- if $c.ports.grpc }}
    - name: grpc
      port: {{ $c.ports.grpc }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    {{- end }}
{{- end }}

{{/* ServiceMonitor (prometheus-operator). Args: dict "root" $ "component" "gateway" */}}
{{- define "astra.serviceMonitor" -}}
{{- $sm := .root.Values.metrics.serviceMonitor }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "astra.componentName" . }}
  namespace: {{ default .root.Release.Namespace $sm.namespace }}
  labels:
    {{- include "astra.componentLabels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  jobLabel: app.kubernetes.io/component
  namespaceSelector:
    matchNames:
      - {{ .root.Release.Namespace }}
  selector:
    matchLabels:
      {{- include "astra.selectorLabels" . | nindent 6 }}
      astra/endpoint: admin
  endpoints:
    - port: admin
      path: /metrics
      scheme: http
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
      {{- with $sm.relabelings }}
      relabelings:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $sm.metricRelabelings }}
      metricRelabelings:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
