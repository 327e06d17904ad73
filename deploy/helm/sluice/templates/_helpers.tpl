{{/*
Names, labels and the sluice.toml the chart renders.
*/}}

{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, cut to 63 characters (the DNS label limit); it names the
workload, the Services and the Secret. The release name alone when it already holds the
chart's name.
*/}}
{{- define "sluice.fullname" -}}
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

{{- define "sluice.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ include "sluice.chart" . }}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ include "sluice.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sluice
{{- end }}

{{- define "sluice.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret that holds sluice.toml, and its key. */}}
{{- define "sluice.configSecretName" -}}
{{- .Values.existingSecret | default (printf "%s-config" (include "sluice.fullname" .)) }}
{{- end }}

{{- define "sluice.configSecretKey" -}}
{{- if .Values.existingSecret }}{{ .Values.existingSecretKey }}{{ else }}sluice.toml{{ end }}
{{- end }}

{{/* Fails on a mode the chart does not know; every workload template includes it. */}}
{{- define "sluice.validate" -}}
{{- if not (has .Values.mode (list "upstream" "embedded")) }}
{{- fail (printf "mode must be \"upstream\" or \"embedded\", not %q" (toString .Values.mode)) }}
{{- end }}
{{- if and (eq .Values.mode "upstream") (not .Values.existingSecret) (empty .Values.upstream.servers) }}
{{- fail "upstream mode needs at least one server in upstream.servers" }}
{{- end }}
{{- with .Values.upstream }}
{{- if and .token .user }}
{{- fail "upstream.token and upstream.user are exclusive" }}
{{- end }}
{{- if ne (empty .user) (empty .password) }}
{{- fail "upstream.user and upstream.password go together" }}
{{- end }}
{{- end }}
{{- if and .Values.upstream.tls.enabled (not .Values.upstream.tls.secretName) }}
{{- fail "upstream.tls.enabled needs upstream.tls.secretName" }}
{{- end }}
{{- end }}

{{/* Mount point of the upstream TLS Secret. */}}
{{- define "sluice.upstreamTlsDir" -}}/etc/sluice-upstream-tls{{- end }}

{{/*
The configuration as a dict: .Values.config with the tables the chart owns laid over it.
Keys the chart owns may not be in .Values.config (a silent override would surprise).
*/}}
{{- define "sluice.configDict" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $owned := list "nats.host" "nats.port" "api.host" "api.port" "monitor" "upstream" }}
{{- if eq .Values.mode "embedded" }}
{{- $owned = concat $owned (list "jetstream.enabled" "jetstream.store_dir") }}
{{- end }}
{{- range $owned }}
{{- $path := splitList "." . }}
{{- $table := get $cfg (first $path) }}
{{- if eq (len $path) 1 }}
{{- if hasKey $cfg . }}
{{- fail (printf "config.%s is written by the chart: use the chart's values (ports, upstream, embedded) instead" .) }}
{{- end }}
{{- else if and (kindIs "map" $table) (hasKey $table (last $path)) }}
{{- fail (printf "config.%s is written by the chart: use the chart's values (ports, upstream, embedded) instead" .) }}
{{- end }}
{{- end }}
{{- $owns := dict
  "nats" (dict "host" "0.0.0.0" "port" .Values.ports.client)
  "api" (dict "host" "0.0.0.0" "port" .Values.ports.api)
  "monitor" (dict "host" "0.0.0.0" "port" .Values.ports.monitor) }}
{{- if eq .Values.mode "upstream" }}
{{- $js := get $cfg "jetstream" }}
{{- if and (kindIs "map" $js) (get $js "enabled") }}
{{- fail "config.jetstream.enabled: in upstream mode JetStream is the NATS cluster's" }}
{{- end }}
{{- $up := dict "servers" .Values.upstream.servers }}
{{- with .Values.upstream.name }}{{ $_ := set $up "name" . }}{{ end }}
{{- with .Values.upstream.token }}{{ $_ := set $up "token" . }}{{ end }}
{{- with .Values.upstream.user }}{{ $_ := set $up "user" . }}{{ end }}
{{- with .Values.upstream.password }}{{ $_ := set $up "password" . }}{{ end }}
{{- with .Values.upstream.maxBuffer }}{{ $_ := set $up "max_buffer" . }}{{ end }}
{{- if .Values.upstream.tls.enabled }}
{{- $dir := include "sluice.upstreamTlsDir" . }}
{{- $tls := dict "required" .Values.upstream.tls.required }}
{{- with .Values.upstream.tls.caFile }}{{ $_ := set $tls "ca_file" (printf "%s/%s" $dir .) }}{{ end }}
{{- with .Values.upstream.tls.certFile }}{{ $_ := set $tls "cert_file" (printf "%s/%s" $dir .) }}{{ end }}
{{- with .Values.upstream.tls.keyFile }}{{ $_ := set $tls "key_file" (printf "%s/%s" $dir .) }}{{ end }}
{{- $_ := set $up "tls" $tls }}
{{- end }}
{{- $_ := set $owns "upstream" $up }}
{{- else }}
{{- $_ := set $owns "jetstream" (dict "enabled" true "store_dir" "/data") }}
{{- end }}
{{- toJson (mergeOverwrite $cfg $owns) }}
{{- end }}

{{/* A TOML key: bare when it can be, else quoted. */}}
{{- define "sluice.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toRawJson . }}{{ end }}
{{- end }}

{{/*
A TOML value on one line. JSON's string escapes are all valid in TOML basic strings, and
JSON numbers and booleans are TOML's; maps become inline tables, lists arrays.
*/}}
{{- define "sluice.toml.value" -}}
{{- $v := . }}
{{- if kindIs "map" $v }}
{{- $parts := list }}
{{- range $k := keys $v | sortAlpha }}
{{- $item := get $v $k }}
{{- if not (kindIs "invalid" $item) }}
{{- $parts = append $parts (printf "%s = %s" (include "sluice.toml.key" $k) (include "sluice.toml.value" $item)) }}
{{- end }}
{{- end }}
{{- printf "{ %s }" (join ", " $parts) }}
{{- else if kindIs "slice" $v }}
{{- $parts := list }}
{{- range $v }}
{{- $parts = append $parts (include "sluice.toml.value" .) }}
{{- end }}
{{- printf "[%s]" (join ", " $parts) }}
{{- else }}
{{- toRawJson $v }}
{{- end }}
{{- end }}

{{/*
sluice.toml from the dict above: top-level keys first, then one [table] per map, each
table's own maps as inline tables.
*/}}
{{- define "sluice.config" -}}
{{- $cfg := include "sluice.configDict" . | fromJson -}}
# sluice.toml rendered by the Helm chart {{ include "sluice.chart" . }} for release {{ .Release.Name }} ({{ .Values.mode }} mode).
# Every key: examples/sluice.toml in the sluice repository.
{{- range $k := keys $cfg | sortAlpha }}
{{- $v := get $cfg $k }}
{{- if not (or (kindIs "map" $v) (kindIs "invalid" $v)) }}
{{ include "sluice.toml.key" $k }} = {{ include "sluice.toml.value" $v }}
{{- end }}
{{- end }}
{{- range $k := keys $cfg | sortAlpha }}
{{- $v := get $cfg $k }}
{{- if kindIs "map" $v }}

[{{ include "sluice.toml.key" $k }}]
{{- range $sk := keys $v | sortAlpha }}
{{- $sv := get $v $sk }}
{{- if not (kindIs "invalid" $sv) }}
{{ include "sluice.toml.key" $sk }} = {{ include "sluice.toml.value" $sv }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{ end }}

{{/* Pod template shared by the Deployment (upstream) and the StatefulSet (embedded). */}}
{{- define "sluice.podTemplate" -}}
metadata:
  labels:
    {{- include "sluice.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- if not .Values.existingSecret }}
    checksum/config: {{ include "sluice.config" . | sha256sum }}
    {{- end }}
    {{- if .Values.metrics.podAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ .Values.ports.monitor | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "sluice.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: sluice
      image: "{{ .Values.image.repository }}:{{ include "sluice.imageTag" . }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - -c
        - /etc/sluice/sluice.toml
        {{- if .Values.serverNameFromPod }}
        - --server_name
        - $(POD_NAME)
        {{- end }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: nats
          containerPort: {{ .Values.ports.client }}
          protocol: TCP
        - name: api
          containerPort: {{ .Values.ports.api }}
          protocol: TCP
        - name: monitor
          containerPort: {{ .Values.ports.monitor }}
          protocol: TCP
      {{- if .Values.probes.startup.enabled }}
      startupProbe:
        httpGet:
          path: {{ .Values.probes.startup.path | default "/healthz" }}
          port: monitor
        periodSeconds: {{ .Values.probes.startup.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.startup.failureThreshold }}
      {{- end }}
      readinessProbe:
        httpGet:
          path: {{ .Values.probes.readiness.path | default "/healthz" }}
          port: monitor
        periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
      livenessProbe:
        httpGet:
          path: {{ .Values.probes.liveness.path | default "/healthz" }}
          port: monitor
        periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
      {{- with .Values.lifecycle }}
      lifecycle:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/sluice
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if eq .Values.mode "embedded" }}
        - name: data
          mountPath: /data
        {{- end }}
        {{- if and (eq .Values.mode "upstream") .Values.upstream.tls.enabled }}
        - name: upstream-tls
          mountPath: {{ include "sluice.upstreamTlsDir" . }}
          readOnly: true
        {{- end }}
  volumes:
    - name: config
      secret:
        secretName: {{ include "sluice.configSecretName" . }}
        items:
          - key: {{ include "sluice.configSecretKey" . }}
            path: sluice.toml
    - name: tmp
      emptyDir:
        {{- with .Values.tmpVolume.sizeLimit }}
        sizeLimit: {{ . }}
        {{- end }}
    {{- if and (eq .Values.mode "embedded") (not .Values.embedded.persistence.enabled) }}
    - name: data
      emptyDir: {}
    {{- end }}
    {{- if and (eq .Values.mode "upstream") .Values.upstream.tls.enabled }}
    - name: upstream-tls
      secret:
        secretName: {{ .Values.upstream.tls.secretName }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if or .Values.spreadAcrossNodes .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- if .Values.spreadAcrossNodes }}
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "sluice.selectorLabels" . | nindent 10 }}
    {{- end }}
    {{- with .Values.topologySpreadConstraints }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}
