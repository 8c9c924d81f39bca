#!/usr/bin/env bash
# The Helm chart's command lines, run for real: helm renders the chart (pod network), and the
# controller's and the media node's container args and the media node's preStop command are run
# as rendered, with only the places changed (Secret mounts to scratch files, pod IP and 0.0.0.0 to
# loopback, the headless Service's name to localhost, the state volume to a scratch folder). One CA signs both certificates as the
# chart's README asks. The controller finds the node through DNS, places a room on it over
# mutual TLS, the preStop hook drains the node (readiness off), and both exit 0 on SIGTERM.
# Needs the chart tools of `make chart-check` (build/chart-tools); skipped without them.
# The controller keeps its rooms in the chart's state file; the media node binds the chart's
# fixed WebRTC port. Loopback only; TCP and UDP ports 44582-44590.
source "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
helm=${CHART_TOOLS_DIR:-$root/build/chart-tools}/bin/helm
python=/usr/bin/python3
[[ -x $python ]] || python=python3
if [[ ! -x $helm ]] || ! "$python" -c 'import yaml' 2>/dev/null; then
  echo "skipped: no helm in build/chart-tools (run make chart-check) or no python3-yaml"
  exit 77
fi

"$helm" template chorus "$root/helm/chorus" --namespace chorus \
  --set mediaNode.network.mode=pod --set mediaNode.network.udpService.enabled=false \
  --set controller.grpcPort=44582 --set controller.metricsPort=44583 \
  --set mediaNode.grpcPort=44584 --set mediaNode.metricsPort=44585 \
  --set mediaNode.network.portMin=44586 --set mediaNode.network.portMax=44589 \
  --set mediaNode.network.webrtcPort=44590 \
  --set mediaNode.workers=1 --set mediaNode.drain.minWaitSeconds=1 \
  --set mediaNode.drain.timeoutSeconds=30 --set controller.drainMinWaitSeconds=1 \
  >"$E2E_WORK/chart.yaml" || fail "helm template"

# Each command, one argument per line, with the cluster's places mapped to this machine.
"$python" - "$E2E_WORK/chart.yaml" "$E2E_WORK" <<'PY' || fail "reading the rendered commands"
import sys, yaml
work = sys.argv[2]
places = [("/etc/chorus/tls/", None), ("/etc/chorus/tokens/", work + "/tokens/"),
          ("/var/lib/chorus/", work + "/state/"),
          ("0.0.0.0:", "127.0.0.1:"), ("$(POD_IP)", "127.0.0.1"), ("$(POD_NAME)", "media-0"),
          ("chorus-media.chorus.svc.cluster.local", "localhost")]
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if not doc or doc["kind"] != "Deployment":
        continue
    component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
    container = doc["spec"]["template"]["spec"]["containers"][0]
    commands = {component: container["args"]}
    if component == "media-node":
        commands["prestop"] = container["lifecycle"]["preStop"]["exec"]["command"][1:]
    for name, args in commands.items():
        tls = work + ("/controller-tls/" if component == "controller" else "/media-tls/")
        with open(f"{work}/{name}.args", "w") as out:
            for arg in args:
                for old, new in places:
                    arg = arg.replace(old, new if new is not None else tls)
                out.write(arg + "\n")
PY
mapfile -t controller_args <"$E2E_WORK/controller.args"
mapfile -t media_args <"$E2E_WORK/media-node.args"
mapfile -t prestop_args <"$E2E_WORK/prestop.args"

# The Secrets: one CA, the media node certificate with the headless Service's name.
mkdir -p "$E2E_WORK/controller-tls" "$E2E_WORK/media-tls" "$E2E_WORK/tokens" "$E2E_WORK/state"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=chorus-ca" -keyout "$E2E_WORK/ca.key" -out "$E2E_WORK/ca.crt" 2>/dev/null || fail "ca"
make_cert() {
  local dir=$E2E_WORK/$1 san=$2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
    -keyout "$dir/tls.key" -out "$dir/tls.csr" 2>/dev/null || fail "csr $1"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$dir/ext"
  openssl x509 -req -in "$dir/tls.csr" -CA "$E2E_WORK/ca.crt" -CAkey "$E2E_WORK/ca.key" \
    -CAcreateserial -days 1 -extfile "$dir/ext" -out "$dir/tls.crt" 2>/dev/null || fail "cert $1"
  cp "$E2E_WORK/ca.crt" "$dir/ca.crt"
}
make_cert controller-tls "DNS:chorus.example.org"
make_cert media-tls "DNS:chorus-media"
openssl rand -hex 32 >"$E2E_WORK/tokens/tokens"

start_chorusd media "${media_args[@]}"
media_pid=$CHORUSD_PID
media_http=$HTTP_ADDR
start_chorusd controller "${controller_args[@]}"
controller_pid=$CHORUSD_PID
pass "chorusd media-node and controller start with the chart's arguments"
grep -q '"webrtc_ports":"44590"' "$E2E_WORK/media.log" ||
  fail "the media node does not listen on the chart's WebRTC port 44590"
pass "the media node binds the chart's WebRTC port (--webrtc_port=44590)"

ctl=("$CHORUSCTL" --address=127.0.0.1:44582 --tls_ca="$E2E_WORK/ca.crt"
  --tls_server_name=chorus.example.org --token_file="$E2E_WORK/tokens/tokens" --timeout=5s)
"${ctl[@]}" room create meeting --access=shared-pin --guest_pin=1357 --room_id=chart-room \
  >/dev/null || fail "room create"
key=$(head -c 30 /dev/urandom | base64 -w0)
joined=""
for _ in $(seq 30); do
  joined=$("${ctl[@]}" --json join chart-room --pin=1357 --receive=127.0.0.1:9 --key="$key" \
    2>"$E2E_WORK/join.txt") && break
  joined=""
  sleep 0.5
done
[[ -n $joined ]] || fail "no join through the chart's controller: $(cat "$E2E_WORK/join.txt")"
grep -q '"address": "127.0.0.1"' <<<"$joined" || fail "media answer: $joined"
pass "the controller found the node through DNS and placed a room on it over mutual TLS"

"$CHORUSCTL" "${prestop_args[@]}" >"$E2E_WORK/prestop.txt" 2>&1 ||
  fail "the preStop command failed: $(cat "$E2E_WORK/prestop.txt")"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$media_http/readyz") == 503 ]] ||
  fail "/readyz after the preStop hook"
pass "the preStop hook drains the node with its own certificate: /readyz 503"

"${ctl[@]}" room close chart-room >/dev/null || fail "room close"
kill -TERM "$media_pid" "$controller_pid"
wait_exit "$media_pid" 15
[[ $EXIT_STATUS == 0 ]] || fail "the media node exited with $EXIT_STATUS"
wait_exit "$controller_pid" 15
[[ $EXIT_STATUS == 0 ]] || fail "the controller exited with $EXIT_STATUS"
pass "SIGTERM: both exit 0"
[[ $(stat -c %a "$E2E_WORK/state/state.db" 2>/dev/null) == 600 ]] ||
  fail "the controller did not keep its state in the chart's --state_file (mode 0600)"
pass "the controller kept its rooms in the chart's state file, readable by its user only"
