{{/*
The base name of every object: the release name when it already says meshkeeper, else
"<release>-meshkeeper", cut to 63 characters (the limit of a label value and of many names).
*/}}
{{- define "meshkeeper.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "meshkeeper.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "meshkeeper.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "meshkeeper.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meshkeeper
{{- end -}}

{{/* The labels that tell this release's objects apart from another's; selectors use them. */}}
{{- define "meshkeeper.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meshkeeper.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The manager's pods. */}}
{{- define "meshkeeper.managerSelectorLabels" -}}
{{ include "meshkeeper.selectorLabels" . }}
app.kubernetes.io/component: manager
{{- end -}}

{{/* The ServiceAccount the manager runs as, and every binding names: serviceAccount.name, else the
chart's own one (serviceAccount.create) or the namespace's "default". */}}
{{- define "meshkeeper.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "meshkeeper.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{/* The manager image: by digest when image.digest is set, else by tag (the chart's appVersion by default). */}}
{{- define "meshkeeper.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}
