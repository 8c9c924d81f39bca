# Janus AudioBridge on loopback for the side-by-side benchmarks (sourced after tests/e2e/lib.sh,
# whose cleanup stops what is started here and removes $E2E_WORK).
#
# Janus comes from Debian's `janus` package (1.1.2 in Debian 12). It is not a build or test
# dependency of Chorus, so scripts/install-deps.sh does not install it: janus_require says how
# to get it when it is missing.

JANUS_LIB_DIR=${JANUS_LIB_DIR:-/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/janus}

janus_require() {
  command -v janus >/dev/null && [[ -f $JANUS_LIB_DIR/plugins/libjanus_audiobridge.so ]] && return 0
  echo "janus is not installed: as root, 'apt-get install --no-install-recommends janus'" \
    "(Debian's package; the benchmark configures and starts its own instance on loopback)" >&2
  return 1
}

# start_janus HTTP_PORT RTP_PORT_MIN RTP_PORT_MAX [MEDIA_IP]: writes a configuration folder in
# $E2E_WORK/janus (only the AudioBridge plugin and the HTTP transport, plain RTP allowed, no
# session timeout, no event handlers or loggers), starts janus with it, waits for its HTTP API,
# and sets JANUS_PID and JANUS_URL.
start_janus() {
  local http_port=$1 rtp_min=$2 rtp_max=$3 media_ip=${4:-127.0.0.1}
  local dir=$E2E_WORK/janus plugin disable_plugins="" disable_transports=""
  mkdir -p "$dir"
  for plugin in "$JANUS_LIB_DIR"/plugins/*.so; do
    [[ $(basename "$plugin") == libjanus_audiobridge.so ]] && continue
    disable_plugins+="${disable_plugins:+,}$(basename "$plugin")"
  done
  for plugin in "$JANUS_LIB_DIR"/transports/*.so; do
    [[ $(basename "$plugin") == libjanus_http.so ]] && continue
    disable_transports+="${disable_transports:+,}$(basename "$plugin")"
  done
  cat >"$dir/janus.jcfg" <<CFG
general: {
  configs_folder = "$dir"
  plugins_folder = "$JANUS_LIB_DIR/plugins"
  transports_folder = "$JANUS_LIB_DIR/transports"
  events_folder = "$JANUS_LIB_DIR/events"
  loggers_folder = "$JANUS_LIB_DIR/loggers"
  debug_level = 3
  session_timeout = 0
  server_name = "chorus-benchmark"
}
media: {
  rtp_port_range = "$rtp_min-$rtp_max"
}
nat: {
  ice_enforce_list = "lo"
}
plugins: {
  disable = "$disable_plugins"
}
transports: {
  disable = "$disable_transports"
}
events: {
  broadcast = false
}
loggers: {
  disable = "libjanus_jsonlog.so"
}
CFG
  cat >"$dir/janus.transport.http.jcfg" <<CFG
general: {
  json = "compact"
  base_path = "/janus"
  http = true
  port = $http_port
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
}
CFG
  cat >"$dir/janus.plugin.audiobridge.jcfg" <<CFG
general: {
  rtp_port_range = "$rtp_min-$rtp_max"
  local_ip = "$media_ip"
  events = false
}
CFG
  janus --configs-folder="$dir" --config="$dir/janus.jcfg" --disable-colors \
    >"$E2E_WORK/janus.log" 2>&1 &
  JANUS_PID=$!
  E2E_PIDS+=("$JANUS_PID")
  JANUS_URL="http://127.0.0.1:$http_port/janus"
  for _ in $(seq 100); do
    curl -sf -o /dev/null "$JANUS_URL/info" && return 0
    kill -0 "$JANUS_PID" 2>/dev/null || fail "janus exited at start ($(tail -5 "$E2E_WORK/janus.log"))"
    sleep 0.1
  done
  fail "janus did not answer on $JANUS_URL within 10 s"
}
