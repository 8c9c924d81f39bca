{{/* Names, labels and the checks every render runs. */}}

{{- define "chorus.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chorus.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 57 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 57 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "chorus.controllerName" -}}
{{- printf "%s-controller" (include "chorus.fullname" .) -}}
{{- end -}}

{{/* The Service of the controller's web listener (patients' browsers). */}}
{{- define "chorus.webName" -}}
{{- printf "%s-web" (include "chorus.fullname" .) -}}
{{- end -}}

{{/* The claim holding the controller's state file (controller.store.type sqlite). */}}
{{- define "chorus.controllerStateClaim" -}}
{{- default (printf "%s-state" (include "chorus.controllerName" .)) .Values.controller.store.sqlite.existingClaim -}}
{{- end -}}

{{/* The headless Service of the media nodes: discovery and metrics. */}}
{{- define "chorus.mediaName" -}}
{{- printf "%s-media" (include "chorus.fullname" .) -}}
{{- end -}}

{{/* The SIP role's Deployment and Service. */}}
{{- define "chorus.sipName" -}}
{{- printf "%s-sip" (include "chorus.fullname" .) -}}
{{- end -}}

{{- define "chorus.sipSelector" -}}
app.kubernetes.io/name: {{ include "chorus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: sip
{{- end -}}

{{- define "chorus.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "chorus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chorus
{{- end -}}

{{- define "chorus.controllerSelector" -}}
app.kubernetes.io/name: {{ include "chorus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "chorus.mediaSelector" -}}
app.kubernetes.io/name: {{ include "chorus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: media-node
{{- end -}}

{{- define "chorus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chorus.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "chorus.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "chorus.mediaTlsName" -}}
{{- default (include "chorus.mediaName" .) .Values.tls.mediaNode.serverName -}}
{{- end -}}

{{- define "chorus.hostNetwork" -}}
{{- if eq .Values.mediaNode.network.mode "host" -}}true{{- end -}}
{{- end -}}

{{/* Media nodes may be more than one: a fixed count above one, or an autoscaler. */}}
{{- define "chorus.mediaMayBeMany" -}}
{{- if or (gt (int .Values.mediaNode.replicaCount) 1) (ne .Values.mediaNode.autoscaling.mode "none") -}}true{{- end -}}
{{- end -}}

{{- define "chorus.terminationGraceSeconds" -}}
{{- add .Values.mediaNode.drain.timeoutSeconds .Values.mediaNode.drain.graceMarginSeconds -}}
{{- end -}}

{{/*
Checks across values that values.schema.json cannot express. Each failure says what is wrong and
what to do.
*/}}
{{- define "chorus.validate" -}}
{{- $c := .Values.controller -}}
{{- if and (gt (int $c.replicaCount) 1) (eq $c.store.type "sqlite") -}}
{{- fail (printf "controller.replicaCount=%v with controller.store.type=sqlite: the SQLite state file serves exactly one controller (a second one finds it locked and does not start, and controllers would not share rooms). Set controller.replicaCount=1, or use controller.store.type=postgres for several replicas" $c.replicaCount) -}}
{{- end -}}
{{- if and (gt (int $c.replicaCount) 1) (ne $c.store.type "postgres") -}}
{{- fail (printf "controller.replicaCount=%v with controller.store.type=%s: each controller would hold rooms of its own and calls would reach the wrong one. Set controller.replicaCount=1, or use controller.store.type=postgres for several replicas" $c.replicaCount $c.store.type) -}}
{{- end -}}
{{- if and (eq $c.store.type "postgres") (not $c.store.postgres.existingSecret) -}}
{{- fail "controller.store.type=postgres needs controller.store.postgres.existingSecret: the Secret holding the database's connection URI (key controller.store.postgres.key, default uri; CloudNativePG's <cluster>-app Secret has it). The chart bundles no database" -}}
{{- end -}}
{{- range $c.extraArgs -}}
{{- if regexMatch "^--(no)?(web_listen|web_tls_cert|web_tls_key|public_url|web_allowed_origins|ice_servers_file|web_behind_proxy)(=|$)" . -}}
{{- fail (printf "controller.extraArgs has %s: the web listener is the chart's to configure (its port, Service, NetworkPolicy rule and mounted Secrets go with it). Drop it and set controller.web instead (enabled, port, publicUrl, allowedOrigins, tls.secretName, iceServers, behindProxy)" (regexReplaceAll "=.*" . "")) -}}
{{- end -}}
{{- end -}}
{{- $w := $c.web -}}
{{- if $w.enabled -}}
{{- if not $w.publicUrl -}}
{{- fail "controller.web.enabled needs controller.web.publicUrl: the https:// address patients' browsers open (https://video.hospital.example), the base of every invitation link" -}}
{{- end -}}
{{- if not (regexMatch "^https://[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$" $w.publicUrl) -}}
{{- fail (printf "controller.web.publicUrl=%s must be https://host or https://host:port, without a path or a trailing slash: links are <publicUrl>/join#..., and the page opens its WebSocket at /ws of its own origin" $w.publicUrl) -}}
{{- end -}}
{{- range $w.allowedOrigins -}}
{{- if or (not (regexMatch "^https://[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$" .)) (hasSuffix ":443" .) -}}
{{- fail (printf "controller.web.allowedOrigins: %q is not an origin as browsers send it, which the controller compares letter for letter: https://host or https://host:port, in lower case, without a path, a trailing slash or :443 (e.g. https://portal.hospital.example)" .) -}}
{{- end -}}
{{- end -}}
{{- if or (eq (int $w.port) (int $c.grpcPort)) (eq (int $w.port) (int $c.metricsPort)) -}}
{{- fail (printf "controller.web.port (%v) must differ from controller.grpcPort (%v) and controller.metricsPort (%v): each is a listener of its own" $w.port $c.grpcPort $c.metricsPort) -}}
{{- end -}}
{{- range $c.extraArgs -}}
{{- if regexMatch "^--dev(=(?i:true|t|1|yes|y))?$" . -}}
{{- fail "controller.extraArgs has --dev with controller.web.enabled: patients' browsers are served over TLS only; drop --dev" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $net := .Values.mediaNode.network -}}
{{- if gt (int $net.portMin) (int $net.portMax) -}}
{{- fail (printf "mediaNode.network: portMin (%v) must not be above portMax (%v)" $net.portMin $net.portMax) -}}
{{- end -}}
{{- $webrtc := int $net.webrtcPort -}}
{{- $workers := int .Values.mediaNode.workers -}}
{{- if $webrtc -}}
{{- if lt $webrtc 1024 -}}
{{- fail (printf "mediaNode.network.webrtcPort (%v) must be 0 (each worker takes a port from the media range) or a port from 1024 to 65279" $webrtc) -}}
{{- end -}}
{{- if eq $workers 0 -}}
{{- fail "mediaNode.network.webrtcPort opens one UDP port per media worker: set mediaNode.workers (0 means one per core, which the chart cannot know)" -}}
{{- end -}}
{{- $last := add $webrtc (sub $workers 1) -}}
{{- if gt (int $last) 65535 -}}
{{- fail (printf "mediaNode.network.webrtcPort (%v) with %v workers needs ports up to %v, beyond 65535" $webrtc $workers $last) -}}
{{- end -}}
{{- if and (le $webrtc (int $net.portMax)) (ge (int $last) (int $net.portMin)) -}}
{{- fail (printf "mediaNode.network: the WebRTC ports %v-%v (webrtcPort and one per worker) overlap the media range %v-%v; put webrtcPort outside it" $webrtc $last $net.portMin $net.portMax) -}}
{{- end -}}
{{- if and (eq $net.mode "pod") $net.udpService.enabled (eq $net.udpService.type "NodePort") (or (lt $webrtc 30000) (gt (int $last) 32767)) -}}
{{- fail (printf "mediaNode.network.udpService.type=NodePort exposes each WebRTC port as the same node port, so %v-%v must lie within Kubernetes' node port range 30000-32767" $webrtc $last) -}}
{{- end -}}
{{- end -}}
{{- $ports := add (sub (int $net.portMax) (int $net.portMin)) 1 (ternary $workers 0 (gt $webrtc 0)) -}}
{{- if and (eq $net.mode "pod") $net.udpService.enabled (gt (int $ports) 100) -}}
{{- fail (printf "mediaNode.network: the pod-network UDP Service lists every media port (and WebRTC port) and Kubernetes allows at most 100; the range %v-%v has %v in all. Narrow it, or set mediaNode.network.udpService.enabled=false" $net.portMin $net.portMax $ports) -}}
{{- end -}}
{{- if and (eq $net.mode "pod") $net.udpService.enabled (ne $net.udpService.type "Headless") (include "chorus.mediaMayBeMany" .) -}}
{{- fail (printf "mediaNode.network.udpService.type=%s balances packets over every media node, but a participant's packets must reach the node holding its session: use type Headless (pod IPs), host network, or exactly one media node (replicaCount 1, autoscaling none)" $net.udpService.type) -}}
{{- end -}}
{{- if and (ne $net.mode "host") (ne $net.mode "pod") -}}
{{- fail (printf "mediaNode.network.mode must be host or pod, not %q" $net.mode) -}}
{{- end -}}
{{- if and (eq $net.mode "pod") $net.udpService.enabled (eq $net.udpService.type "NodePort") (or (lt (int $net.portMin) 30000) (gt (int $net.portMax) 32767)) -}}
{{- fail (printf "mediaNode.network.udpService.type=NodePort exposes each media port as the same node port, so the range %v-%v must lie within Kubernetes' node port range 30000-32767" $net.portMin $net.portMax) -}}
{{- end -}}
{{- if and $net.advertisedAddress (include "chorus.mediaMayBeMany" .) -}}
{{- fail (printf "mediaNode.network.advertisedAddress=%s would send every participant of every media node to that one address: leave it empty (each node advertises its own IP), or run exactly one media node (replicaCount 1, autoscaling none)" $net.advertisedAddress) -}}
{{- end -}}
{{- $as := .Values.mediaNode.autoscaling -}}
{{- if and (ne $as.mode "none") (gt (int $as.minReplicas) (int $as.maxReplicas)) -}}
{{- fail (printf "mediaNode.autoscaling: minReplicas (%v) must not be above maxReplicas (%v)" $as.minReplicas $as.maxReplicas) -}}
{{- end -}}
{{- if and (ne $as.mode "none") (ge (float64 $as.targetLoad) (float64 .Values.mediaNode.admissionThreshold)) -}}
{{- fail (printf "mediaNode.autoscaling.targetLoad (%v) must be below mediaNode.admissionThreshold (%v), or nodes refuse rooms before the autoscaler adds any" $as.targetLoad .Values.mediaNode.admissionThreshold) -}}
{{- end -}}
{{- if and (not .Values.auth.apiTokens.secretName) (not .Values.auth.requireClientCert) -}}
{{- fail "auth: the public API must authenticate its callers: set auth.apiTokens.secretName, or auth.requireClientCert=true, or both" -}}
{{- end -}}
{{- if gt (int .Values.mediaNode.drain.minWaitSeconds) (int .Values.mediaNode.drain.timeoutSeconds) -}}
{{- fail "mediaNode.drain: minWaitSeconds must not be above timeoutSeconds" -}}
{{- end -}}
{{- end -}}

{{/* A mapping value at the given indent: "{}" on the key's line when empty, else a block. */}}
{{- define "chorus.block" -}}
{{- if .value -}}
{{ toYaml .value | nindent .indent }}
{{- else -}}
{{ " {}" }}
{{- end -}}
{{- end -}}
