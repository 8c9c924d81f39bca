// Runs the test script's commands (from web_harness.py's queue) against the real web client
// mounted in this page: clicks its buttons, waits for its states, and measures what its own
// media elements play: tone levels by FFT (AnalyserNode) on the remote audio element's stream,
// and colours of the remote video element (canvas). Never reads or reports tokens.
'use strict';

const params = new URLSearchParams(location.search);
const pageName = params.get('name');
const chorusOrigin = params.get('chorus');
// Where the client's files come from: chorusd itself, unless a developer points elsewhere.
const scriptsOrigin = params.get('scripts') || chorusOrigin;
const started = performance.now();
const audio = new (window.AudioContext || window.webkitAudioContext)({sampleRate: 48000});
let analysis = null;  // {stream, analyser}

function elapsed() {
  return Math.round(performance.now() - started);
}

function log(text) {
  fetch('/log/' + pageName, {method: 'POST', body: elapsed() + ' ' + text}).catch(() => {});
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error('cannot load ' + src));
    document.head.append(script);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls `probe` every 100 ms until it returns a truthy value or `seconds` pass.
async function until(probe, seconds, what) {
  const deadline = performance.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error('timeout: ' + what);
    await sleep(100);
  }
}

function visible(element) {
  return element && !element.closest('[hidden]') && element.getClientRects().length > 0;
}

function find(selector) {
  return [...document.querySelectorAll(selector)].find(visible) || null;
}

function analyser() {
  const element = document.querySelector('.chorus-remote-audio');
  const stream = element && element.srcObject;
  if (!stream || stream.getAudioTracks().length === 0) return null;
  if (!analysis || analysis.stream !== stream) {
    const node = audio.createAnalyser();
    node.fftSize = 16384;
    node.smoothingTimeConstant = 0;
    audio.createMediaStreamSource(stream).connect(node);
    analysis = {stream, analyser: node, bins: new Float32Array(node.frequencyBinCount)};
  }
  return analysis;
}

// The level (dB) of each tone now: the loudest of its FFT bin and the two beside it.
function levels(tones) {
  const a = analyser();
  const result = {};
  if (!a) {
    tones.forEach((hz) => { result[hz] = -200; });
    return result;
  }
  a.analyser.getFloatFrequencyData(a.bins);
  const binHz = audio.sampleRate / a.analyser.fftSize;
  tones.forEach((hz) => {
    const k = Math.round(hz / binHz);
    const level = Math.max(a.bins[k - 1], a.bins[k], a.bins[k + 1]);
    result[hz] = Number.isFinite(level) ? level : -200;
  });
  return result;
}

// Average colours of the remote video: the centre quarter, and the centres of a 4x4 grid.
function colours() {
  const video = document.querySelector('.chorus-remote-video');
  if (!video || !video.videoWidth) return {width: 0, height: 0, rgb: null, grid: []};
  const w = video.videoWidth;
  const h = video.videoHeight;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const context = canvas.getContext('2d', {willReadFrequently: true});
  context.drawImage(video, 0, 0, w, h);
  const average = (x, y, pw, ph) => {
    const data = context.getImageData(Math.round(x), Math.round(y), Math.max(1, Math.round(pw)),
                                      Math.max(1, Math.round(ph))).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; ++c) sum[c] += data[i + c];
    return sum.map((v) => Math.round(v / (data.length / 4)));
  };
  const grid = [];
  for (let row = 0; row < 4; ++row) {
    for (let column = 0; column < 4; ++column) {
      grid.push(average((column + 0.4) * w / 4, (row + 0.4) * h / 4, w / 20, h / 20));
    }
  }
  return {width: w, height: h, rgb: average(w * 3 / 8, h * 3 / 8, w / 4, h / 4), grid};
}

function near(rgb, want, tolerance) {
  return rgb && rgb.every((v, i) => Math.abs(v - want[i]) <= tolerance);
}

// The peer connections the client makes, so that a test can read what the browser itself
// negotiated (an ICE restart changes the ICE credentials of both descriptions).
const peerConnections = [];
window.RTCPeerConnection = class extends window.RTCPeerConnection {
  constructor(...args) {
    super(...args);
    peerConnections.push(this);
  }
};

const commands = {
  // Waits until the newest peer connection's local description has another ICE username
  // fragment than `local` (the client restarted ICE); then its credentials.
  async await_ice_change(c) {
    await until(() => {
      const pc = peerConnections[peerConnections.length - 1];
      const m = pc && pc.localDescription && /a=ice-ufrag:(\S+)/.exec(pc.localDescription.sdp);
      return m && m[1] !== c.local;
    }, c.timeout || 30, 'an ICE restart');
    return commands.ice_credentials();
  },
  // The ICE username fragments of the newest peer connection's local and remote descriptions.
  async ice_credentials() {
    const pc = peerConnections[peerConnections.length - 1];
    const ufrag = (d) => {
      const m = d && /a=ice-ufrag:(\S+)/.exec(d.sdp);
      return m ? m[1] : '';
    };
    return {local: pc ? ufrag(pc.currentLocalDescription) : '',
            remote: pc ? ufrag(pc.currentRemoteDescription) : ''};
  },
  async mount(c) {
    ChorusApp.mount(document.getElementById('app'), {room: c.room, invite: c.invite,
                                                     server: chorusOrigin, lang: c.lang || 'en'});
    await audio.resume();
    return {};
  },
  async wait(c) {
    const element = await until(() => find(c.selector), c.timeout || 20, c.selector);
    return {text: element.textContent, data: Object.assign({}, element.dataset)};
  },
  // Waits until nothing visible matches.
  async gone(c) {
    await until(() => !find(c.selector), c.timeout || 20, 'gone: ' + c.selector);
    return {};
  },
  async click(c) {
    const element = await until(() => {
      const e = find(c.selector);
      return e && !e.disabled ? e : null;
    }, c.timeout || 20, c.selector);
    element.focus();
    element.click();
    return {text: element.textContent};
  },
  async select(c) {
    const element = await until(() => find(c.selector), c.timeout || 20, c.selector);
    element.value = c.value;
    element.dispatchEvent(new Event('change', {bubbles: true}));
    return {};
  },
  async texts(c) {
    return {texts: [...document.querySelectorAll(c.selector)].filter(visible)
                .map((e) => e.textContent)};
  },
  // Waits until the tone has been above `above` dB (or, given `below`, under it) for `hold`
  // seconds in a row.
  async await_tone(c) {
    let since = 0;
    const hold = (c.hold || 1) * 1000;
    let last = null;
    try {
      await until(() => {
        last = levels([c.hz])[c.hz];
        if (c.below !== undefined ? last >= c.below : last <= c.above) since = 0;
        else if (!since) since = performance.now();
        return since && performance.now() - since >= hold;
      }, c.timeout || 20, 'tone ' + c.hz);
    } catch (error) {
      throw new Error(error.message + ' (last ' + Math.round(last) + ' dB)');
    }
    return {level: last};
  },
  // Tone levels (mean and maximum of samples every 250 ms) over `seconds`, then the colours.
  async measure(c) {
    const samples = {};
    c.tones.forEach((hz) => { samples[hz] = []; });
    const end = performance.now() + c.seconds * 1000;
    while (performance.now() < end) {
      const now = levels(c.tones);
      c.tones.forEach((hz) => samples[hz].push(now[hz]));
      await sleep(250);
    }
    const mean = {};
    const max = {};
    const median = {};
    const round = (v) => Math.round(v * 10) / 10;
    c.tones.forEach((hz) => {
      const list = samples[hz];
      const sorted = list.slice().sort((a, b) => a - b);
      mean[hz] = round(list.reduce((a, b) => a + b, 0) / list.length);
      max[hz] = round(sorted[sorted.length - 1]);
      median[hz] = round(sorted[Math.floor(sorted.length / 2)]);
    });
    return Object.assign({tones_db: mean, max_db: max, median_db: median}, colours());
  },
  // Waits until the centre (or, with anywhere, some cell of the grid) shows the colour; with
  // away, until the centre shows a picture that is not that colour.
  async await_colour(c) {
    let last = null;
    try {
      await until(() => {
        last = colours();
        if (c.away) return last.rgb && !near(last.rgb, c.rgb, c.tolerance || 40);
        return near(last.rgb, c.rgb, c.tolerance || 40) ||
               (c.anywhere && last.grid.some((cell) => near(cell, c.rgb, c.tolerance || 40)));
      }, c.timeout || 20, (c.away ? 'away from ' : 'colour ') + c.rgb);
    } catch (error) {
      throw new Error(error.message + ' (last ' + JSON.stringify(last && last.rgb) + ')');
    }
    return last;
  },
};

// Script errors of the client (or of this page) go to the page's log.
window.addEventListener('error', (event) => log('error: ' + event.message + ' at ' +
                                                 (event.filename || '').split('/').pop() + ':' +
                                                 event.lineno));
window.addEventListener('unhandledrejection', (event) => log('rejection: ' + event.reason));

async function run() {
  for (const file of ['i18n.js', 'chorus.js', 'app.js']) await loadScript(scriptsOrigin + '/' + file);
  // What the client shows, as it changes (views and endings), for the script's log.
  const root = document.getElementById('app');
  new MutationObserver(() => {
    const view = root.dataset.view || '';
    if (view !== root.dataset.logged) {
      root.dataset.logged = view;
      const ended = root.querySelector('.chorus-ended');
      log('view ' + view + (ended ? ' ' + ended.dataset.reason : ''));
    }
  }).observe(root, {attributes: true, attributeFilter: ['data-view']});
  log('ready');
  let after = 0;
  for (;;) {
    // The network may be away for a while (a test's outage): ask again.
    const response = await fetch('/next/' + pageName + '?after=' + after).catch(() => null);
    if (!response) {
      await sleep(200);
      continue;
    }
    if (response.status !== 200) continue;
    const command = await response.json();
    after = command.id;
    log('start ' + command.op);
    let result;
    try {
      result = Object.assign({ok: true}, await commands[command.op](command));
    } catch (error) {
      result = {ok: false, error: String(error && error.message || error)};
    }
    log(command.op + ' ' + (result.ok ? 'ok' : 'failed: ' + result.error));
    const body = JSON.stringify(result);
    for (let tries = 0; tries < 300; ++tries) {
      const posted = await fetch('/result/' + pageName + '/' + command.id, {method: 'POST', body})
          .catch(() => null);
      if (posted && posted.ok) break;
      await sleep(200);
    }
  }
}

run().catch((error) => log('harness failed: ' + error));
