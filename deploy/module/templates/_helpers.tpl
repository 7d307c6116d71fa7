{{- define "registry-operator.labels" -}}
app.kubernetes.io/name: registry-operator
app.kubernetes.io/part-of: reestr
heritage: deckhouse
module: registry-operator
{{- end }}
