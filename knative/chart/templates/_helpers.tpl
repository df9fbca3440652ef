{{/*
Shared helpers. Functions are rendered in name order so output is stable.
*/}}

{{- define "todo.namespace" -}}
{{- .Values.namespace | default .Release.Namespace -}}
{{- end -}}

{{/* The components the chart defines; a function may use only these. */}}
{{- define "todo.componentNames" -}}
{{- list "pubsub" "tasks" "dedupe" "secrets" "reminder-sweep" "notify-webhook" | toJson -}}
{{- end -}}

{{/* Sorted names of the enabled functions, as JSON. */}}
{{- define "todo.enabled" -}}
{{- $names := list -}}
{{- range $name := keys .Values.functions | sortAlpha -}}
{{- $f := include "todo.fn" (list $ $name) | fromJson -}}
{{- if $f.enabled -}}{{- $names = append $names $name -}}{{- end -}}
{{- end -}}
{{- $names | toJson -}}
{{- end -}}

{{/*
A function's settings: its entry under functions, with every key it leaves
out taken from defaults (keys present win, even when zero or false).
*/}}
{{- define "todo.fn" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $cfg := index $root.Values.functions $name | default dict -}}
{{- $out := dict "name" $name -}}
{{- range $k, $v := $root.Values.defaults -}}
{{- $_ := set $out $k (ternary (index $cfg $k) $v (hasKey $cfg $k)) -}}
{{- end -}}
{{- range $k := list "invokedBy" "components" "topics" "pings" "secrets" -}}
{{- $_ := set $out $k (index $cfg $k | default list) -}}
{{- end -}}
{{- range $c := $out.components -}}
{{- if not (has $c (include "todo.componentNames" $root | fromJsonArray)) -}}
{{- fail (printf "functions.%s.components: unknown component %q" $name $c) -}}
{{- end -}}
{{- end -}}
{{- $out | toJson -}}
{{- end -}}

{{/* "true" when the function named by the argument is to be rendered. */}}
{{- define "todo.renders" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- include "todo.checkOnly" $root -}}
{{- if or (eq $root.Values.only "") (eq $root.Values.only $name) -}}true{{- end -}}
{{- end -}}

{{/* "true" when the shared Dapr resources are to be rendered. */}}
{{- define "todo.rendersPlatform" -}}
{{- include "todo.checkOnly" . -}}
{{- if or (eq .Values.only "") (eq .Values.only "platform") -}}true{{- end -}}
{{- end -}}

{{- define "todo.checkOnly" -}}
{{- $only := .Values.only -}}
{{- if and $only (ne $only "platform") -}}
{{- if not (hasKey .Values.functions $only) -}}
{{- fail (printf "only: %q is neither \"platform\" nor a function" $only) -}}
{{- end -}}
{{- if not (has $only (include "todo.enabled" . | fromJsonArray)) -}}
{{- fail (printf "only: function %q is disabled" $only) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of every resource that belongs to one function. */}}
{{- define "todo.fnLabels" -}}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/part-of: todo-chatbot
app.kubernetes.io/component: function
todo-chatbot.dev/function: {{ . }}
{{- end -}}

{{/* Labels of the shared resources. */}}
{{- define "todo.platformLabels" -}}
app.kubernetes.io/part-of: todo-chatbot
app.kubernetes.io/component: platform
{{- end -}}

{{- define "todo.image" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- if $root.Values.image.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $root.Values.image.registry) $name $root.Values.image.tag -}}
{{- else -}}
{{- printf "ko://%s/%s" $root.Values.image.importPath $name -}}
{{- end -}}
{{- end -}}

{{/* A Kubernetes-style name for a topic: todo.tasks.events -> todo-tasks-events. */}}
{{- define "todo.topicName" -}}
{{- . | replace "." "-" -}}
{{- end -}}
