// Validates the chart's rendered manifests (tests/chart/check.sh renders them): every object
// against its Kubernetes (or Prometheus Operator, KEDA) schema, then the chart's promises.
//
//   node validate.js --metrics=FILE [--dashboard=FILE] CASE=RENDERED.yaml...
//
// CASE is the name of the values file in helm/chorus/ci/ (default, host-network, pod-network,
// keda, hardened, postgres); each has its own expectations below. FILE lists the metric names the code
// exports, one per line: every metric an alert or a dashboard panel uses must be one of them.
'use strict';

const fs = require('fs');
const YAML = require('yaml');

const failures = [];
let checks = 0;
function check(condition, message) {
  checks++;
  if (!condition) failures.push(message);
  return condition;
}

// The model class of an apiVersion and kind, from the pinned npm packages.
function modelFor(apiVersion, kind) {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const candidates =
    group === ''
      ? [`kubernetes-models/${version}/${kind}`]
      : [
          `kubernetes-models/${group}/${version}/${kind}`,
          `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`,
          `@kubernetes-models/keda/${group}/${version}/${kind}`,
        ];
  for (const name of candidates) {
    try {
      const model = require(name)[kind];
      if (model) return model;
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND' && e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e;
    }
  }
  return null;
}

// What each ci/ values file must produce, besides what every render must satisfy.
const expectations = {
  default: { network: 'host', kinds: [], absent: ['HorizontalPodAutoscaler', 'ScaledObject'] },
  'host-network': {
    network: 'host',
    webrtcPort: 41000,
    kinds: ['HorizontalPodAutoscaler', 'ServiceMonitor', 'PrometheusRule'],
    absent: ['ScaledObject'],
  },
  'pod-network': { network: 'pod', kinds: [], absent: ['HorizontalPodAutoscaler', 'ScaledObject'] },
  keda: { network: 'host', kinds: ['ScaledObject', 'ServiceMonitor'], absent: ['HorizontalPodAutoscaler'] },
  hardened: {
    network: 'pod',
    restricted: true,
    webrtcPort: 41100,
    // Behind an Ingress that speaks HTTPS to the controller's own certificate.
    web: { serviceType: 'ClusterIP', ownCertificate: true, behindProxy: true, from: 'peers', iceServers: false },
    kinds: ['HorizontalPodAutoscaler', 'ServiceMonitor', 'PrometheusRule'],
    absent: ['ScaledObject'],
  },
  postgres: {
    network: 'host',
    store: 'postgres',
    // Browsers straight to a load balancer, a certificate of its own, TURN servers.
    web: { serviceType: 'LoadBalancer', ownCertificate: false, behindProxy: false, from: 'anywhere', iceServers: true },
    kinds: ['ServiceMonitor'],
    absent: ['HorizontalPodAutoscaler', 'ScaledObject', 'PersistentVolumeClaim'],
  },
};

const flag = (args, name) => {
  const prefix = `--${name}=`;
  const found = (args || []).find((a) => a.startsWith(prefix));
  return found === undefined ? undefined : found.slice(prefix.length);
};
const seconds = (text) => {
  const m = /^([0-9]+)(s|m|h)$/.exec(text || '');
  if (!m) return NaN;
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2]];
};
const portOf = (hostPort) => Number((hostPort || '').split(':').pop());
const matches = (selector, labels) =>
  Object.entries(selector || {}).every(([k, v]) => (labels || {})[k] === v);

// The Secret volume a file argument lies in, when the container mounts it read-only and the file
// is one of the volume's keys (all of them, or its items); else null.
function secretFileVolume(pod, container, file) {
  const mount = (container.volumeMounts || []).find((m) => (file || '').startsWith(`${m.mountPath}/`));
  if (!mount || !mount.readOnly) return null;
  const volume = (pod.volumes || []).find((v) => v.name === mount.name);
  if (!volume || !volume.secret) return null;
  const path = file.slice(mount.mountPath.length + 1);
  const items = volume.secret.items;
  return !items || items.some((i) => i.path === path) ? volume : null;
}

const RESTRICTED_VOLUMES = new Set([
  'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected',
  'secret',
]);

function checkSecurity(where, pod, allowHostNetwork, restricted) {
  const psc = pod.securityContext || {};
  check(psc.runAsNonRoot === true, `${where}: pod securityContext.runAsNonRoot must be true`);
  check(psc.runAsUser === undefined || psc.runAsUser !== 0, `${where}: runs as root (runAsUser 0)`);
  check(!pod.hostPID && !pod.hostIPC, `${where}: hostPID/hostIPC are never used`);
  check(!pod.hostNetwork || allowHostNetwork,
    `${where}: hostNetwork is on, but only host-mode media nodes may use it`);
  if (restricted) check(!pod.hostNetwork, `${where}: the restricted profile forbids hostNetwork`);
  check(pod.automountServiceAccountToken === false,
    `${where}: Chorus calls no Kubernetes API, so automountServiceAccountToken must be false`);
  for (const volume of pod.volumes || []) {
    const type = Object.keys(volume).find((k) => k !== 'name');
    check(RESTRICTED_VOLUMES.has(type), `${where}: volume ${volume.name} of type ${type} is not allowed`);
  }
  for (const c of [...(pod.initContainers || []), ...(pod.containers || [])]) {
    const sc = c.securityContext || {};
    const at = `${where}/${c.name}`;
    check(sc.allowPrivilegeEscalation === false, `${at}: allowPrivilegeEscalation must be false`);
    check(sc.readOnlyRootFilesystem === true, `${at}: readOnlyRootFilesystem must be true`);
    check(!sc.privileged, `${at}: privileged`);
    check(((sc.capabilities || {}).drop || []).includes('ALL'), `${at}: capabilities must drop ALL`);
    check(((sc.capabilities || {}).add || []).length === 0, `${at}: adds capabilities`);
    check(sc.runAsUser !== 0, `${at}: runs as root`);
    check((sc.runAsNonRoot ?? psc.runAsNonRoot) === true, `${at}: runAsNonRoot must be true`);
    const seccomp = (sc.seccompProfile || psc.seccompProfile || {}).type;
    check(seccomp === 'RuntimeDefault' || seccomp === 'Localhost',
      `${at}: seccompProfile must be RuntimeDefault, is ${seccomp}`);
    for (const p of c.ports || []) {
      check(!p.hostPort || allowHostNetwork, `${at}: hostPort ${p.hostPort} outside host mode`);
    }
  }
}

function checkBehavior(where, behavior) {
  const up = (behavior || {}).scaleUp || {};
  const down = (behavior || {}).scaleDown || {};
  check(up.stabilizationWindowSeconds !== undefined && up.stabilizationWindowSeconds <= 30,
    `${where}: scale-up must be fast (stabilizationWindowSeconds <= 30, is ${up.stabilizationWindowSeconds})`);
  check(down.stabilizationWindowSeconds >= 300,
    `${where}: scale-down must be slow (stabilizationWindowSeconds >= 300, is ${down.stabilizationWindowSeconds})`);
  const upPods = Math.max(...(up.policies || []).filter((p) => p.type === 'Pods').map((p) => p.value), 0);
  const downPods = Math.max(...(down.policies || []).map((p) => (p.type === 'Pods' ? p.value : Infinity)), 0);
  const downPeriod = Math.min(...(down.policies || []).map((p) => p.periodSeconds));
  const upPeriod = Math.min(...(up.policies || []).map((p) => p.periodSeconds));
  check(upPods >= 1 && downPods <= upPods && downPeriod >= upPeriod,
    `${where}: scale-down steps (${downPods} per ${downPeriod}s) must be no bigger and no faster than scale-up (${upPods} per ${upPeriod}s)`);
}

function checkCase(name, docs, metricNames) {
  const expect = expectations[name];
  if (!check(expect !== undefined, `${name}: no expectations for this ci/ values file; add them`)) return;
  const byKind = (kind) => docs.filter((d) => d.kind === kind);
  const component = (d) => ((d.metadata || {}).labels || {})['app.kubernetes.io/component'];

  // 1. Schemas.
  for (const doc of docs) {
    const id = `${name}: ${doc.kind}/${(doc.metadata || {}).name}`;
    const Model = modelFor(doc.apiVersion || '', doc.kind || '');
    if (!check(Model !== null, `${id}: no schema for ${doc.apiVersion} ${doc.kind}`)) continue;
    try {
      new Model(doc).validate();
      checks++;
    } catch (e) {
      check(false, `${id}: invalid: ${e.message}`);
    }
    const limit = doc.kind === 'Service' ? 63 : 253;
    check(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(doc.metadata.name) && doc.metadata.name.length <= limit,
      `${id}: name is not a valid ${limit}-character DNS name`);
    check(((doc.metadata.labels || {})['app.kubernetes.io/instance'] || '') !== '',
      `${id}: missing the app.kubernetes.io/instance label`);
  }
  for (const kind of expect.kinds) check(byKind(kind).length > 0, `${name}: expected a ${kind}`);
  for (const kind of expect.absent) check(byKind(kind).length === 0, `${name}: unexpected ${kind}`);

  const deployments = byKind('Deployment');
  const media = deployments.find((d) => component(d) === 'media-node');
  const controller = deployments.find((d) => component(d) === 'controller');
  const sip = deployments.find((d) => component(d) === 'sip');
  if (!check(media && controller, `${name}: needs a controller and a media-node Deployment`)) return;
  const mediaPod = media.spec.template.spec;
  const mediaLabels = media.spec.template.metadata.labels;
  const mediaContainer = mediaPod.containers[0];
  const mediaArgs = mediaContainer.args;
  const controllerPod = controller.spec.template.spec;
  const controllerArgs = controllerPod.containers[0].args;

  // 2. Restricted security everywhere (host network only for host-mode media nodes).
  for (const d of deployments) {
    checkSecurity(`${name}: Deployment/${d.metadata.name}`, d.spec.template.spec,
      d === media && expect.network === 'host', expect.restricted === true);
  }
  check((mediaPod.hostNetwork === true) === (expect.network === 'host'),
    `${name}: media nodes should be on the ${expect.network} network`);
  if (mediaPod.hostNetwork) {
    check(mediaPod.dnsPolicy === 'ClusterFirstWithHostNet',
      `${name}: host-network media nodes need dnsPolicy ClusterFirstWithHostNet to resolve cluster names`);
    const anti = ((mediaPod.affinity || {}).podAntiAffinity || {}).requiredDuringSchedulingIgnoredDuringExecution || [];
    check(anti.some((t) => t.topologyKey === 'kubernetes.io/hostname' && matches(t.labelSelector.matchLabels, mediaLabels)),
      `${name}: host-network media nodes share their node's ports: required anti-affinity on kubernetes.io/hostname`);
  }
  if (expect.store === 'postgres') {
    // 2a. Replicas on PostgreSQL: several, replaced one at a time without a gap, the database's
    // URI from the operator's Secret as a read-only file (never an argument), no state file.
    const strategy = controller.spec.strategy || {};
    check(controller.spec.replicas >= 2 && strategy.type === 'RollingUpdate' &&
      (strategy.rollingUpdate || {}).maxUnavailable === 0,
    `${name}: controller replicas on PostgreSQL are several, replaced by RollingUpdate with maxUnavailable 0`);
    const urlFile = flag(controllerArgs, 'postgres_url_file') || '';
    const urlMount = (controllerPod.containers[0].volumeMounts || [])
      .find((m) => urlFile.startsWith(`${m.mountPath}/`));
    const urlVolume = urlMount && (controllerPod.volumes || []).find((v) => v.name === urlMount.name);
    const items = ((urlVolume || {}).secret || {}).items || [];
    check(urlFile && urlMount && urlMount.readOnly && items.length === 1 &&
      `${urlMount.mountPath}/${items[0].path}` === urlFile,
    `${name}: --postgres_url_file (${urlFile}) must be the one key of the database's Secret, mounted read-only`);
    check(!flag(controllerArgs, 'state_file') &&
      !controllerArgs.some((a) => /postgres(ql)?:\/\//.test(a)),
    `${name}: on PostgreSQL, no --state_file and no connection URI among the arguments`);
  } else {
    check(controller.spec.replicas === 1 && controller.spec.strategy.type === 'Recreate',
      `${name}: one controller (it holds the rooms), replaced by Recreate`);

    // 2b. The controller's rooms survive restarts: its --state_file is on a ReadWriteOnce claim
    // (every ci/ values file but postgres keeps the default store, sqlite).
    const stateFile = flag(controllerArgs, 'state_file') || '';
    const stateMount = (controllerPod.containers[0].volumeMounts || [])
      .find((m) => stateFile.startsWith(`${m.mountPath}/`));
    const stateVolume = stateMount && (controllerPod.volumes || []).find((v) => v.name === stateMount.name);
    const claimName = ((stateVolume || {}).persistentVolumeClaim || {}).claimName;
    if (check(stateFile && stateMount && !stateMount.readOnly && claimName,
      `${name}: the controller's --state_file (${stateFile}) must be on a writable PersistentVolumeClaim`)) {
      const claim = byKind('PersistentVolumeClaim').find((c) => c.metadata.name === claimName);
      if (check(claim, `${name}: no PersistentVolumeClaim ${claimName} for the controller's state`)) {
        check(JSON.stringify(claim.spec.accessModes) === '["ReadWriteOnce"]',
          `${name}: the state claim must be ReadWriteOnce (SQLite is not safe on shared file systems)`);
      }
    }
  }

  // 3. Drain on termination: preStop, readiness, a grace period longer than the drain.
  const drainTimeout = seconds(flag(mediaArgs, 'drain_timeout'));
  const drainMinWait = seconds(flag(mediaArgs, 'drain_min_wait'));
  const grace = mediaPod.terminationGracePeriodSeconds;
  check(drainTimeout >= 600, `${name}: media nodes should drain for a long time (--drain_timeout ${drainTimeout}s)`);
  check(grace >= drainTimeout + 10,
    `${name}: terminationGracePeriodSeconds (${grace}) must exceed --drain_timeout (${drainTimeout}s) by 10 s or more, or the kubelet kills running sessions`);
  const preStop = (((mediaContainer.lifecycle || {}).preStop || {}).exec || {}).command || [];
  const mediaGrpcPort = portOf(flag(mediaArgs, 'grpc_listen'));
  check(preStop[0] === '/usr/local/bin/chorusctl' && preStop.slice(-2).join(' ') === 'node Drain',
    `${name}: the media node's preStop must call chorusctl node Drain, is ${JSON.stringify(preStop)}`);
  check(portOf(flag(preStop, 'address')) === mediaGrpcPort,
    `${name}: preStop must call the node's own gRPC port ${mediaGrpcPort}`);
  check(flag(preStop, 'tls_server_name') === flag(controllerArgs, 'media_node_tls_name'),
    `${name}: preStop and the controller must expect the same media node certificate name`);
  const httpPort = portOf(flag(mediaArgs, 'http_listen'));
  const namedPort = (c, n) => ((c.ports || []).find((p) => p.name === n) || {}).containerPort;
  for (const [d, args] of [[media, mediaArgs], [controller, controllerArgs]]) {
    const c = d.spec.template.spec.containers[0];
    const probePort = (probe) => {
      const port = ((probe || {}).httpGet || {}).port;
      return typeof port === 'string' ? namedPort(c, port) : port;
    };
    const listen = portOf(flag(args, 'http_listen'));
    check(((c.readinessProbe || {}).httpGet || {}).path === '/readyz' && probePort(c.readinessProbe) === listen,
      `${name}: ${d.metadata.name} readiness must probe /readyz on --http_listen's port ${listen}`);
    check(((c.livenessProbe || {}).httpGet || {}).path === '/healthz' && probePort(c.livenessProbe) === listen,
      `${name}: ${d.metadata.name} liveness must probe /healthz on port ${listen}`);
  }
  const readiness = mediaContainer.readinessProbe;
  check(drainMinWait >= readiness.periodSeconds * readiness.failureThreshold,
    `${name}: --drain_min_wait (${drainMinWait}s) must outlast one failed readiness probe`);
  check(httpPort > 0 && mediaGrpcPort > 0, `${name}: media listen ports`);

  // 4. Discovery: the controller resolves the headless Service of the media nodes.
  const services = byKind('Service');
  const headless = services.find((s) => s.spec.clusterIP === 'None' && matches(s.spec.selector, mediaLabels) &&
    s.spec.ports.some((p) => p.port === mediaGrpcPort));
  const mediaNodes = flag(controllerArgs, 'media_nodes') || '';
  if (check(headless, `${name}: no headless Service selects the media nodes on port ${mediaGrpcPort}`)) {
    check(new RegExp(`^dns:${headless.metadata.name}\\.[a-z0-9-]+\\.svc\\.[a-z0-9.]+:${mediaGrpcPort}$`).test(mediaNodes),
      `${name}: the controller's --media_nodes (${mediaNodes}) must name the headless Service ${headless.metadata.name}`);
  }
  check(controllerArgs.includes('--require_client_cert') || flag(controllerArgs, 'api_tokens_file'),
    `${name}: the public API must authenticate its callers`);
  check(mediaArgs.includes('--require_client_cert') && flag(mediaArgs, 'tls_client_ca'),
    `${name}: media nodes must require the controller's client certificate`);

  // 5. Disruption budgets that let evictions through one drain at a time.
  const pdbs = byKind('PodDisruptionBudget');
  const mediaPdb = pdbs.find((p) => matches(p.spec.selector.matchLabels, mediaLabels));
  if (check(mediaPdb, `${name}: no PodDisruptionBudget covers the media nodes`)) {
    const max = mediaPdb.spec.maxUnavailable;
    check(max !== undefined && max !== 0 && max !== '0%',
      `${name}: the media PodDisruptionBudget must allow evictions (maxUnavailable ${max}), or node drains never finish`);
  }

  // 6. Network policies: never for host-network pods; gRPC only from the platform or controller.
  const policies = byKind('NetworkPolicy');
  for (const np of policies) {
    for (const d of deployments) {
      const selected = matches(np.spec.podSelector.matchLabels, d.spec.template.metadata.labels);
      check(!(selected && d.spec.template.spec.hostNetwork),
        `${name}: NetworkPolicy/${np.metadata.name} selects host-network pods of ${d.metadata.name}, which no NetworkPolicy can cover`);
    }
  }
  const controllerPolicy = policies.find((np) => matches(np.spec.podSelector.matchLabels, controller.spec.template.metadata.labels));
  const grpcPort = portOf(flag(controllerArgs, 'grpc_listen'));
  if (check(controllerPolicy, `${name}: no NetworkPolicy for the controller`)) {
    const rules = controllerPolicy.spec.ingress.filter((r) => (r.ports || []).some((p) => p.port === grpcPort));
    // The platform's namespace, and the SIP role's own pods (a client of the public API too).
    const fromSip = (r) => sip && r.from.length > 0 && r.from.every((f) => f.podSelector && !f.namespaceSelector &&
      matches(f.podSelector.matchLabels, sip.spec.template.metadata.labels));
    const platformRules = rules.filter((r) => !fromSip(r));
    check(platformRules.length === 1 && platformRules[0].from.length > 0 &&
      platformRules[0].from.every((f) => f.namespaceSelector && Object.keys(f.namespaceSelector).length > 0),
      `${name}: the public API port ${grpcPort} must be open only to the platform's namespace (and the SIP role)`);
    check(!sip || rules.some(fromSip), `${name}: the SIP role's pods must reach the public API`);
  }
  // The SIP role: TLS always, never --dev, its controller CA without the controller's key, a
  // Service callers can reach.
  if (sip) {
    const sipArgs = sip.spec.template.spec.containers[0].args;
    check(sipArgs[0] === 'sip' && flag(sipArgs, 'sips_listen') && !sipArgs.includes('--dev'),
      `${name}: the SIP role must listen for SIP over TLS and never run with --dev`);
    const caVolume = sip.spec.template.spec.volumes.find((v) => v.name === 'controller-ca');
    check(caVolume && caVolume.secret && (caVolume.secret.items || []).length === 1 &&
      caVolume.secret.items[0].key === 'ca.crt',
      `${name}: the SIP role must mount only the controller's CA, never its key`);
    const sipService = byKind('Service').find((v) => matches(v.spec.selector, sip.spec.template.metadata.labels) &&
      v.spec.type !== 'ClusterIP');
    check(sipService && ['LoadBalancer', 'NodePort'].includes(sipService.spec.type) &&
      sipService.spec.ports.some((p) => p.protocol === 'TCP' && p.port === portOf(flag(sipArgs, 'sips_listen'))),
      `${name}: SBCs and room systems must reach the SIP role's TLS port through a LoadBalancer or NodePort Service`);
    check(pdbs.some((b) => matches(b.spec.selector.matchLabels, sip.spec.template.metadata.labels)),
      `${name}: no PodDisruptionBudget covers the SIP role`);
    // Calls placed (DialOut) go through a SIP or SIPS proxy when one is set, and ring a bounded time.
    const proxy = flag(sipArgs, 'sip_outbound_proxy');
    check(!proxy || /^sips?:[^\s"<>]+$/.test(proxy), `${name}: --sip_outbound_proxy must be a sip: or sips: URI`);
    const ring = Number(flag(sipArgs, 'sip_ring_timeout'));
    check(ring >= 5 && ring <= 300, `${name}: --sip_ring_timeout must be 5 to 300 seconds`);
    // With ServiceMonitors, the SIP pods are scraped too.
    if (byKind('ServiceMonitor').length > 0) {
      check(byKind('ServiceMonitor').some((m) => byKind('Service').some((v) =>
        matches(m.spec.selector.matchLabels, v.metadata.labels) &&
        matches(v.spec.selector, sip.spec.template.metadata.labels))),
        `${name}: no ServiceMonitor scrapes the SIP role`);
    }
  }
  // Every ServiceMonitor scrapes a Service that has its port; metrics are never on a Service
  // outside the cluster (callers', browsers' or endpoints' load balancers).
  for (const m of byKind('ServiceMonitor')) {
    const port = m.spec.endpoints[0].port;
    check(byKind('Service').some((v) => matches(m.spec.selector.matchLabels, v.metadata.labels) &&
      v.spec.ports.some((p) => p.name === port)),
      `${name}: ServiceMonitor/${m.metadata.name} selects no Service with its port ${port}`);
  }
  for (const v of byKind('Service')) {
    if (v.spec.type === 'ClusterIP' || v.spec.type === undefined) continue;
    check(!v.spec.ports.some((p) => p.name === 'http-metrics'),
      `${name}: Service/${v.metadata.name} (${v.spec.type}) exposes metrics outside the cluster`);
  }
  const mediaPolicy = policies.find((np) => matches(np.spec.podSelector.matchLabels, mediaLabels));
  if (expect.network === 'pod' && check(mediaPolicy, `${name}: pod-network media nodes need a NetworkPolicy`)) {
    const grpcRule = mediaPolicy.spec.ingress.find((r) => (r.ports || []).some((p) => p.port === mediaGrpcPort));
    check(grpcRule && grpcRule.from.every((f) => f.podSelector && !f.namespaceSelector &&
      matches(f.podSelector.matchLabels, controller.spec.template.metadata.labels)),
      `${name}: the media nodes' internal API must be open only to the controller`);
    const udp = mediaPolicy.spec.ingress.find((r) => (r.ports || []).some((p) => p.protocol === 'UDP'));
    const range = udp && udp.ports.find((p) => p.protocol === 'UDP');
    check(range && range.port === Number(flag(mediaArgs, 'media_port_min')) &&
      range.endPort === Number(flag(mediaArgs, 'media_port_max')),
      `${name}: the media NetworkPolicy must open exactly the media UDP range`);
    const metricsRule = mediaPolicy.spec.ingress.find((r) => (r.ports || []).some((p) => p.port === httpPort));
    check(metricsRule && metricsRule.from.every((f) => f.namespaceSelector),
      `${name}: media metrics must be open only to the monitoring namespace`);
  }

  // 6b. WebRTC: one UDP port per media worker from --webrtc_port, outside the media range, declared
  // on the container (a hostPort in host mode), and in pod mode in the UDP Service and the policy.
  const webrtc = Number(flag(mediaArgs, 'webrtc_port') || 0);
  check(webrtc === (expect.webrtcPort || 0),
    `${name}: media nodes should have --webrtc_port=${expect.webrtcPort || 0}, have ${webrtc}`);
  if (webrtc) {
    const workers = Number(flag(mediaArgs, 'media_workers'));
    const wanted = Array.from({ length: workers }, (_, i) => webrtc + i);
    const udp = (mediaContainer.ports || []).filter((p) => p.protocol === 'UDP');
    check(workers > 0 && JSON.stringify(udp.map((p) => p.containerPort)) === JSON.stringify(wanted) &&
      udp.every((p) => (mediaPod.hostNetwork ? p.hostPort === p.containerPort : p.hostPort === undefined)),
      `${name}: the media container must declare the WebRTC ports ${wanted} (hostPort in host mode): ${JSON.stringify(udp)}`);
    const min = Number(flag(mediaArgs, 'media_port_min'));
    const max = Number(flag(mediaArgs, 'media_port_max'));
    check(wanted.every((p) => p < min || p > max), `${name}: the WebRTC ports must be outside the media range`);
    if (expect.network === 'pod') {
      const rtp = services.find((s) => matches(s.spec.selector, mediaLabels) &&
        s.spec.ports.some((p) => p.protocol === 'UDP'));
      check(rtp && wanted.every((w) => rtp.spec.ports.some((p) => p.protocol === 'UDP' && p.port === w)),
        `${name}: the media UDP Service must carry the WebRTC ports`);
      const rule = mediaPolicy && mediaPolicy.spec.ingress.find((r) => (r.ports || []).some((p) => p.protocol === 'UDP'));
      check(rule && wanted.every((w) => rule.ports.some((p) => p.protocol === 'UDP' && p.port <= w && w <= (p.endPort || p.port))),
        `${name}: the media NetworkPolicy must open the WebRTC ports`);
    }
  }

  // 6c. The web listener for patients' browsers: only where the ci/ file enables it; always TLS
  // (certificate and key from a read-only Secret mount, never --dev), a public URL that is an
  // https:// origin, its port declared, a Service to it that keeps browsers' addresses, and the
  // controller's NetworkPolicy opening exactly that port (to the given peers, or anywhere).
  const controllerContainer = controllerPod.containers[0];
  const controllerLabels = controller.spec.template.metadata.labels;
  const webListen = flag(controllerArgs, 'web_listen');
  const webPort = portOf(webListen);
  const webServices = services.filter((s) => matches(s.spec.selector, controllerLabels) &&
    s.spec.ports.some((p) => p.targetPort === 'web' || (webPort > 0 && p.targetPort === webPort)));
  const webFlags = controllerArgs.filter((a) =>
    /^--(web_|public_url|ice_servers_file)/.test(a));
  if (!expect.web) {
    check(webFlags.length === 0 && !namedPort(controllerContainer, 'web') && webServices.length === 0,
      `${name}: no web listener expected, found ${JSON.stringify(webFlags)}`);
  } else if (check(webListen && webPort > 0, `${name}: the controller should serve browsers (--web_listen)`)) {
    const web = expect.web;
    check(!controllerArgs.some((a) => /^--dev(=|$)/.test(a)),
      `${name}: the web listener faces patients' browsers: never --dev`);
    const ownCert = flag(controllerArgs, 'web_tls_cert');
    const ownKey = flag(controllerArgs, 'web_tls_key');
    check((ownCert === undefined) === (ownKey === undefined),
      `${name}: --web_tls_cert and --web_tls_key go together`);
    check((ownCert === undefined) === web.ownCertificate,
      `${name}: the web listener should use ${web.ownCertificate ? "the controller's own certificate" : 'a certificate of its own (--web_tls_cert)'}`);
    for (const file of [ownCert || flag(controllerArgs, 'tls_cert'), ownKey || flag(controllerArgs, 'tls_key')]) {
      check(file && secretFileVolume(controllerPod, controllerContainer, file),
        `${name}: the web listener's TLS file ${file} must come from a Secret mounted read-only`);
    }
    if (ownCert) {
      const volume = secretFileVolume(controllerPod, controllerContainer, ownCert);
      check(volume && JSON.stringify((volume.secret.items || []).map((i) => i.key).sort()) === '["tls.crt","tls.key"]',
        `${name}: the browsers' TLS Secret is mounted with tls.crt and tls.key only`);
    }
    check(/^https:\/\/[^/]+$/.test(flag(controllerArgs, 'public_url') || ''),
      `${name}: --public_url must be an https:// origin (links add /join), is ${flag(controllerArgs, 'public_url')}`);
    for (const origin of (flag(controllerArgs, 'web_allowed_origins') || '').split(',').filter(Boolean)) {
      check(/^https:\/\/[a-z0-9.-]+(:[0-9]+)?$/.test(origin),
        `${name}: allowed origin ${origin} is not an https:// origin as browsers send it`);
    }
    const webContainerPort = (controllerContainer.ports || []).find((p) => p.name === 'web');
    check(webContainerPort && webContainerPort.containerPort === webPort && webContainerPort.protocol === 'TCP',
      `${name}: the controller must declare its web port ${webPort} (TCP, named web)`);
    if (check(webServices.length === 1, `${name}: one Service should lead to the web port, found ${webServices.length}`)) {
      const svc = webServices[0];
      check(svc.spec.type === web.serviceType, `${name}: the web Service should be ${web.serviceType}, is ${svc.spec.type}`);
      check(svc.spec.ports.every((p) => p.protocol === 'TCP' && (p.targetPort === 'web' || p.targetPort === webPort)),
        `${name}: the web Service leads to the web port only`);
      check(svc.spec.type === 'ClusterIP' || svc.spec.externalTrafficPolicy === 'Local',
        `${name}: a web Service browsers reach directly must keep their addresses (externalTrafficPolicy Local)`);
      check(!svc.spec.ports.some((p) => p.port === grpcPort && p.targetPort === 'grpc'),
        `${name}: the web Service must not expose the public API`);
    }
    check(controllerArgs.includes('--web_behind_proxy') === web.behindProxy,
      `${name}: --web_behind_proxy should be ${web.behindProxy ? 'set' : 'unset'}`);
    const ice = flag(controllerArgs, 'ice_servers_file');
    check(Boolean(ice) === web.iceServers, `${name}: --ice_servers_file should be ${web.iceServers ? 'set' : 'unset'}`);
    if (ice) {
      const volume = secretFileVolume(controllerPod, controllerContainer, ice);
      check(volume && (volume.secret.items || []).length === 1,
        `${name}: --ice_servers_file (${ice}) must be the one key of its Secret, mounted read-only`);
    }
    if (controllerPolicy) {
      const rules = controllerPolicy.spec.ingress.filter((r) => (r.ports || []).some((p) => p.port === webPort));
      if (check(rules.length === 1, `${name}: the controller's NetworkPolicy must open the web port ${webPort} in one rule`)) {
        const rule = rules[0];
        check(rule.ports.every((p) => p.port === webPort && p.protocol === 'TCP'),
          `${name}: the web rule opens the web port only (the public API stays the platform's)`);
        if (web.from === 'anywhere') {
          check((rule.from || []).length === 0, `${name}: browsers come from anywhere: the web rule needs no from`);
        } else {
          check((rule.from || []).length > 0 && rule.from.every((f) =>
            f.namespaceSelector || f.podSelector || (f.ipBlock && f.ipBlock.cidr !== '0.0.0.0/0')),
          `${name}: the web rule should admit only controller.web.networkPolicy.from`);
        }
      }
    }
  }

  // 7. Autoscaling on chorus_node_load, up fast and down slowly; the autoscaler owns replicas.
  for (const hpa of byKind('HorizontalPodAutoscaler')) {
    check(hpa.spec.scaleTargetRef.name === media.metadata.name, `${name}: the HPA must scale the media nodes`);
    check(hpa.spec.metrics.some((m) => m.type === 'Pods' && m.pods.metric.name === 'chorus_node_load'),
      `${name}: the HPA must scale on the pods metric chorus_node_load`);
    checkBehavior(`${name}: HorizontalPodAutoscaler`, hpa.spec.behavior);
  }
  for (const so of byKind('ScaledObject')) {
    check(so.spec.scaleTargetRef.name === media.metadata.name, `${name}: the ScaledObject must scale the media nodes`);
    check(so.spec.triggers.some((t) => t.type === 'prometheus' && /chorus_node_load/.test(t.metadata.query)),
      `${name}: the ScaledObject must read chorus_node_load from Prometheus`);
    check(so.spec.minReplicaCount >= 1, `${name}: never scale media nodes to zero`);
    checkBehavior(`${name}: ScaledObject`, ((so.spec.advanced || {}).horizontalPodAutoscalerConfig || {}).behavior);
  }
  const scaled = byKind('HorizontalPodAutoscaler').length + byKind('ScaledObject').length > 0;
  check(scaled === (media.spec.replicas === undefined),
    `${name}: with an autoscaler the Deployment must leave replicas to it, and set them otherwise`);

  // 8. Alerts use metrics the code exports.
  for (const rule of byKind('PrometheusRule')) {
    for (const group of rule.spec.groups) {
      for (const r of group.rules) {
        for (const m of r.expr.match(/\bchorus_[a-z0-9_]+/g) || []) {
          check(metricNames.has(m), `${name}: alert ${r.alert} uses ${m}, which Chorus does not export`);
        }
      }
    }
  }
}

function main() {
  const args = process.argv.slice(2);
  const metricsFile = flag(args, 'metrics');
  const dashboardFile = flag(args, 'dashboard');
  const metricNames = new Set();
  for (const line of fs.readFileSync(metricsFile, 'utf8').split('\n')) {
    const m = line.trim();
    if (!m) continue;
    metricNames.add(m);
    for (const suffix of ['_bucket', '_sum', '_count']) metricNames.add(m + suffix);
  }
  metricNames.add('up');
  let objects = 0;
  for (const arg of args.filter((a) => !a.startsWith('--'))) {
    const eq = arg.indexOf('=');
    const name = arg.slice(0, eq);
    const docs = YAML.parseAllDocuments(fs.readFileSync(arg.slice(eq + 1), 'utf8'))
      .map((d) => {
        if (d.errors.length) failures.push(`${name}: YAML error: ${d.errors[0].message}`);
        return d.toJS();
      })
      .filter((d) => d !== null && d !== undefined);
    objects += docs.length;
    checkCase(name, docs, metricNames);
  }
  if (dashboardFile) {
    const dashboard = JSON.parse(fs.readFileSync(dashboardFile, 'utf8'));
    const titles = [];
    for (const panel of dashboard.panels || []) {
      if (panel.type === 'row') continue;
      titles.push(panel.title);
      check((panel.targets || []).length > 0, `dashboard: panel "${panel.title}" has no query`);
      for (const t of panel.targets || []) {
        for (const m of t.expr.match(/\bchorus_[a-z0-9_]+/g) || []) {
          check(metricNames.has(m), `dashboard: panel "${panel.title}" uses ${m}, which Chorus does not export`);
        }
        check(!/\b(room|participant|display_name|name|pin|token)=/.test(t.expr),
          `dashboard: panel "${panel.title}" filters on a personal label`);
      }
    }
    for (const wanted of ['Rooms', 'Participants', 'Load per node', 'Tick time p99', 'Packet loss',
      'Jitter', 'SRTP failures', 'Encoders in use']) {
      check(titles.some((t) => t.startsWith(wanted)), `dashboard: no "${wanted}" panel`);
    }
  }
  for (const f of failures) console.error(`FAIL: ${f}`);
  console.log(`validate: ${objects} objects, ${checks} checks, ${failures.length} failed`);
  process.exit(failures.length ? 1 : 0);
}

main();
