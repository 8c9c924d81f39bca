// Chorus reference web client (window.ChorusApp): device check, waiting room, consultation, host
// and interpreter controls, on top of chorus.js. index.html mounts it from the invitation link;
// a platform mounts it into its own page with ChorusApp.mount(element, {room, invite}).
// Every element is built here (no inline script or style: the page's CSP allows neither).
(function (global) {
  'use strict';

  const Chorus = global.Chorus;
  const I18n = global.ChorusI18n;

  // Error codes and `left` reasons that end the session, with the text key shown for each, and
  // whether trying again (the same link) can help.
  const kEndings = {
    invite_used: {text: 'error_invite_used'},
    invite_expired: {text: 'error_invite_expired'},
    invite_revoked: {text: 'error_invite_revoked'},
    invite_invalid: {text: 'error_invite_invalid'},
    room_locked: {text: 'error_room_locked', retry: true},
    room_full: {text: 'error_room_full', retry: true},
    room_ended: {text: 'error_room_ended'},
    consent_required: {text: 'error_consent_required'},
    rate_limited: {text: 'error_rate_limited', retry: true},
    not_allowed: {text: 'error_not_allowed'},
    bad_request: {text: 'error_generic', retry: true},
    media: {text: 'error_media', retry: true},
    unavailable: {text: 'error_unavailable', retry: true},
    network: {text: 'error_network', retry: true},
    timeout: {text: 'error_network', retry: true},
    unsupported: {text: 'error_unsupported'},
    no_link: {text: 'error_no_link'},
    left: {text: 'left_left'},
    removed: {text: 'left_removed'},
    denied: {text: 'left_denied'},
    room_closed: {text: 'left_room_closed'},
    media_timeout: {text: 'left_media_timeout'},
    node_failed: {text: 'left_node_failed'},
    connection_lost: {text: 'left_connection_lost'},
  };

  // h('button', {class: 'x', onclick: f}, 'text', child): an element (attributes, listeners and
  // children); never innerHTML, so names from the server are always text.
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
      else if (key === 'class') element.className = value;
      else if (key in element && typeof element[key] === 'boolean') element[key] = !!value;
      else element.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  function playMedia(element) {
    const played = element.play();
    return played && played.catch ? played : Promise.resolve();
  }

  // Links of the form .../join#r=<room>&i=<token>.
  function parseLink(hash) {
    const fields = new URLSearchParams(String(hash || '').replace(/^#/, ''));
    return {room: fields.get('r') || '', invite: fields.get('i') || ''};
  }

  class App {
    constructor(root, options) {
      this.root = root;
      this.options = options || {};
      this.lang = I18n.pick(this.options.lang ? [this.options.lang] : global.navigator.languages ||
                            [global.navigator.language]);
      this.media = null;             // {stream, audio, video} from Chorus.openMedia
      this.session = null;
      this.participant = null;
      this.roomInfo = null;
      this.roster = [];
      this.speakers = new Set();
      this.consents = [];
      this.micOn = true;
      this.cameraOn = true;
      this.confirmEnd = false;
      this.ended = false;
      this.meter = null;
      this.view = '';
      this.build();
      if (!this.options.room || !this.options.invite) this.end('no_link');
      else if (!global.RTCPeerConnection) this.end('unsupported');
      else this.showCheck();
    }

    t(key, values) {
      return I18n.t(this.lang, key, values);
    }

    languageName(code) {
      if (!code) return this.t('floor');
      try {
        const names = new Intl.DisplayNames([this.lang], {type: 'language'});
        const name = names.of(code);
        if (name && name !== code) return name.charAt(0).toLocaleUpperCase(this.lang) + name.slice(1);
      } catch (error) {
        // An old browser: the code itself.
      }
      return code;
    }

    build() {
      this.live = h('div', {class: 'chorus-live', role: 'status', 'aria-live': 'polite'});
      this.alert = h('div', {class: 'chorus-live', role: 'alert'});
      this.connection = h('span', {class: 'chorus-connection', hidden: true});
      this.screen = h('main', {class: 'chorus-screen'});
      this.root.classList.add('chorus');
      this.root.setAttribute('lang', this.lang);
      this.root.replaceChildren(
          h('header', {class: 'chorus-header'},
            h('h1', {class: 'chorus-title'}, this.t('title')), this.connection),
          this.screen, this.live, this.alert);
    }

    announce(text) {
      this.live.textContent = '';
      // A fresh text node, so that repeating a message is still read out.
      global.setTimeout(() => { this.live.textContent = text; }, 50);
    }

    setView(name, ...children) {
      this.view = name;
      this.root.dataset.view = name;
      this.screen.replaceChildren(...children);
    }

    // --- Device check -------------------------------------------------------------------------

    async showCheck() {
      this.preview = h('video', {class: 'chorus-preview', muted: true, autoplay: true,
                                 playsinline: true, 'aria-label': this.t('self_view')});
      this.preview.muted = true;
      this.meterBar = h('span', {class: 'chorus-meter-bar'});
      this.checkMessage = h('p', {class: 'chorus-message', hidden: true});
      this.pickers = h('div', {class: 'chorus-pickers'});
      this.joinButton = h('button', {class: 'chorus-primary', type: 'button', 'data-action': 'join',
                                     disabled: true, onclick: () => this.join()},
                          this.t('join'));
      this.retryDevices = h('button', {type: 'button', 'data-action': 'retry-devices', hidden: true,
                                       onclick: () => this.openDevices()},
                            this.t('devices_retry'));
      this.setView('check',
                   h('section', {class: 'chorus-check', 'aria-labelledby': 'chorus-check-title'},
                     h('h2', {id: 'chorus-check-title'}, this.t('check_title')),
                     h('p', {}, this.t('check_intro')),
                     h('div', {class: 'chorus-preview-box'}, this.preview),
                     h('div', {class: 'chorus-meter'},
                       h('span', {class: 'chorus-meter-label'}, this.t('mic_level')),
                       h('span', {class: 'chorus-meter-track', 'aria-hidden': 'true'},
                         this.meterBar)),
                     this.pickers, this.checkMessage,
                     h('div', {class: 'chorus-actions'}, this.joinButton, this.retryDevices)));
      this.announce(this.t('check_title'));
      await this.openDevices();
    }

    async openDevices(choice) {
      this.joinButton.disabled = true;
      this.stopMeter();
      if (this.media) this.media.stream.getTracks().forEach((track) => track.stop());
      this.media = await Chorus.openMedia(choice);
      if (this.view !== 'check') {  // left the page meanwhile
        this.media.stream.getTracks().forEach((track) => track.stop());
        return;
      }
      this.preview.srcObject = this.media.stream;
      this.preview.hidden = this.media.stream.getVideoTracks().length === 0;
      playMedia(this.preview).catch(() => {});
      this.startMeter(this.media.stream);
      this.showDeviceProblems();
      await this.showPickers(choice || {});
      this.joinButton.disabled = false;
    }

    // What could not be opened, in words, and what joining will then be like.
    showDeviceProblems() {
      const {audio, video} = this.media;
      const lines = [];
      if (audio === 'unsupported') {
        lines.push(this.t('devices_unsupported'));
      } else {
        if (video) lines.push(this.t('camera_' + video));
        if (audio) lines.push(this.t('mic_' + audio));
        if (audio === 'denied' || video === 'denied') lines.push(this.t('devices_allow_help'));
      }
      this.checkMessage.hidden = lines.length === 0;
      this.checkMessage.textContent = lines.join(' ');
      this.retryDevices.hidden = !(audio === 'denied' || video === 'denied' || audio === 'busy' ||
                                   video === 'busy');
      this.joinButton.textContent = this.t(audio && video ? 'join_without_devices'
                                           : video ? 'join_without_camera'
                                           : audio ? 'join_without_mic' : 'join');
      if (lines.length) this.announce(lines.join(' '));
    }

    async showPickers(choice) {
      const devices = await Chorus.listDevices().catch(() => ({audio: [], video: []}));
      const current = (kind) => {
        const track = this.media.stream.getTracks().find((t) => t.kind === kind);
        const settings = track && track.getSettings ? track.getSettings() : {};
        return settings.deviceId || '';
      };
      const picker = (kind, list, label) => {
        if (list.length < 2) return null;
        const id = 'chorus-pick-' + kind;
        const chosen = current(kind);
        const select = h('select', {id, 'data-pick': kind, onchange: () => {
          const next = Object.assign({}, choice);
          next[kind + 'DeviceId'] = select.value;
          this.openDevices(next);
        }}, list.map((device, index) => h('option', {value: device.deviceId,
                                                       selected: device.deviceId === chosen},
                                            device.label || this.t(label + '_n', {n: index + 1}))));
        return h('div', {class: 'chorus-field'}, h('label', {for: id}, this.t(label)), select);
      };
      this.pickers.replaceChildren(...[picker('audio', devices.audio, 'microphone'),
                                       picker('video', devices.video, 'camera')].filter(Boolean));
    }

    // The microphone level: an AnalyserNode's RMS, drawn as a bar (CSSOM, allowed by the CSP).
    startMeter(stream) {
      const track = stream.getAudioTracks()[0];
      const Context = global.AudioContext || global.webkitAudioContext;
      if (!track || !Context) return;
      const context = new Context();
      const analyser = context.createAnalyser();
      analyser.fftSize = 1024;
      context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      const meter = {context, frame: 0};
      const draw = () => {
        analyser.getFloatTimeDomainData(samples);
        let sum = 0;
        for (const s of samples) sum += s * s;
        const rms = Math.sqrt(sum / samples.length);
        // -60 dBFS .. 0 dBFS onto 0 .. 1.
        const level = rms > 0 ? Math.max(0, Math.min(1, 1 + Math.log10(rms) * 20 / 60)) : 0;
        this.meterBar.style.transform = 'scaleX(' + level.toFixed(3) + ')';
        meter.frame = global.requestAnimationFrame(draw);
      };
      meter.frame = global.requestAnimationFrame(draw);
      this.meter = meter;
      context.resume().catch(() => {});
    }

    stopMeter() {
      if (!this.meter) return;
      global.cancelAnimationFrame(this.meter.frame);
      this.meter.context.close().catch(() => {});
      this.meter = null;
    }

    // --- Joining ------------------------------------------------------------------------------

    async join() {
      this.stopMeter();
      const stream = this.media ? this.media.stream : new MediaStream();
      this.micOn = stream.getAudioTracks().length > 0;
      this.cameraOn = stream.getVideoTracks().length > 0;
      this.buildCall(stream);
      // Started inside the click, so that browsers that want a gesture for sound allow it.
      playMedia(this.remoteAudio).catch(() => {});
      this.setView('connecting', h('section', {class: 'chorus-note'},
                                   h('h2', {}, this.t('connecting'))));
      this.announce(this.t('connecting'));
      const session = new Chorus.Session({room: this.options.room, invite: this.options.invite,
                                          server: this.options.server});
      this.session = session;
      session.on('state', ({participant}) => this.onState(participant));
      session.on('roster', ({participants}) => this.onRoster(participants));
      session.on('speakers', (speakers) => this.onSpeakers(speakers));
      session.on('locked', ({locked}) => this.onLocked(locked));
      session.on('consent', (consent) => this.onConsent(consent));
      session.on('left', ({reason}) => this.end(reason));
      session.on('connection', ({state}) => this.onConnection(state));
      session.on('sharing', ({sharing}) => this.onSharing(sharing));
      session.on('error', ({code}) => this.notify(this.t('request_failed', {code})));
      this.remoteAudio.srcObject = session.remoteAudio;
      this.remoteVideo.srcObject = session.remoteVideo;
      let joined;
      try {
        joined = await session.join(stream);
      } catch (error) {
        this.end(error.code || 'network');
        return;
      }
      this.options.invite = '';  // spent: trying again cannot help any more
      if (this.ended) return;
      this.roomInfo = joined.room || {};
      this.onState(joined.participant);
      playMedia(this.remoteAudio).catch(() => this.offerSound());
      playMedia(this.remoteVideo).catch(() => {});
    }

    onState(participant) {
      if (!participant || this.ended) return;
      const before = this.participant;
      this.participant = participant;
      if (participant.state === 'waiting') {
        if (this.view !== 'waiting') this.showWaiting();
        else this.waitingName.textContent = participant.display_name || '';
        return;
      }
      if (this.view !== 'call') {
        this.showCall();
        this.announce(before && before.state === 'waiting' ? this.t('admitted')
                                                            : this.t('in_call'));
      } else if (before && before.muted !== participant.muted) {
        if (this.ownMute) {
          this.ownMute = false;
          this.mutedByHost = false;
        } else {
          this.mutedByHost = participant.muted;
          this.announce(this.t(participant.muted ? 'muted_by_host' : 'unmuted_by_host'));
        }
        this.showMic(!participant.muted);
      } else if (before && before.on_air !== participant.on_air) {
        this.announce(this.t(participant.on_air ? 'on_air' : 'standby'));
      }
      this.renderPanels();
    }

    onRoster(participants) {
      this.roster = participants || [];
      const self = this.participant && this.roster.find((p) => p.name === this.participant.name);
      if (self) this.participant = Object.assign({}, this.participant, self);
      this.renderPanels();
    }

    onSpeakers({language, participants}) {
      // The floor's speakers, and those of the channel this participant hears.
      const heard = (this.participant && this.participant.listen_language) || '';
      if (language && language !== heard) return;
      this.speakers = new Set(participants);
      this.renderSpeaking();
    }

    onLocked(locked) {
      if (this.roomInfo) this.roomInfo.locked = locked;
      this.announce(this.t(locked ? 'room_now_locked' : 'room_now_unlocked'));
      this.renderPanels();
    }

    onConsent({participant, consent_reference: reference}) {
      const who = this.roster.find((p) => p.name === participant);
      this.consents.push({name: who ? who.display_name : '', reference});
      this.announce(this.t('consent_recorded', {reference}));
      this.renderPanels();
    }

    onConnection(state) {
      const key = {reconnecting: 'reconnecting', failed: 'connection_failed'}[state];
      this.connection.hidden = !key;
      this.connection.textContent = key ? this.t(key) : '';
      if (key) this.announce(this.t(key));
    }

    onSharing(sharing) {
      if (this.shareButton) {
        this.shareButton.setAttribute('aria-pressed', String(sharing));
        this.shareButton.textContent = this.t(sharing ? 'share_stop' : 'share');
      }
      this.announce(this.t(sharing ? 'sharing_started' : 'sharing_stopped'));
    }

    // A problem said aloud and shown; `code` (an error code) is kept on the notice for support.
    notify(text, code) {
      this.alert.textContent = text;
      if (this.notice) {
        this.notice.textContent = text;
        this.notice.dataset.code = code || '';
        this.notice.hidden = false;
      }
    }

    offerSound() {
      if (!this.soundButton) return;
      this.soundButton.hidden = false;
    }

    // --- Waiting room and call ----------------------------------------------------------------

    // The media elements and controls, made once and moved between the waiting room and the call.
    buildCall(stream) {
      this.remoteAudio = h('audio', {class: 'chorus-remote-audio', autoplay: true});
      this.remoteVideo = h('video', {class: 'chorus-remote-video', autoplay: true,
                                     playsinline: true, 'aria-label': this.t('remote_view')});
      this.remoteVideo.muted = true;  // the sound is the audio element's
      this.selfView = h('video', {class: 'chorus-self-view', autoplay: true, playsinline: true,
                                  'aria-label': this.t('self_view')});
      this.selfView.muted = true;
      this.selfView.srcObject = stream;
      this.selfView.hidden = stream.getVideoTracks().length === 0;
      playMedia(this.selfView).catch(() => {});
      this.soundButton = h('button', {type: 'button', class: 'chorus-sound', hidden: true,
                                      'data-action': 'sound', onclick: () => {
                                        playMedia(this.remoteAudio).then(() => {
                                          this.soundButton.hidden = true;
                                        }).catch(() => {});
                                      }}, this.t('sound_on'));
      const hasAudio = stream.getAudioTracks().length > 0;
      const hasVideo = stream.getVideoTracks().length > 0;
      this.micButton = h('button', {type: 'button', 'data-action': 'mic', disabled: !hasAudio,
                                    'aria-pressed': 'false', onclick: () => this.toggleMic()},
                         this.t(hasAudio ? 'mic_off' : 'no_mic'));
      // Without a camera at the start the button offers to start one (permission may come
      // later, or the camera be plugged in).
      this.cameraButton = h('button', {type: 'button', 'data-action': 'camera',
                                       'aria-pressed': String(!hasVideo),
                                       onclick: () => this.toggleCamera()},
                            this.t(hasVideo ? 'camera_off' : 'camera_on'));
      this.shareButton = h('button', {type: 'button', 'data-action': 'share',
                                      'aria-pressed': 'false', onclick: () => this.toggleShare()},
                           this.t('share'));
      this.leaveButton = h('button', {type: 'button', class: 'chorus-danger', 'data-action': 'leave',
                                      onclick: () => this.leave()}, this.t('leave'));
      this.controls = h('div', {class: 'chorus-controls', role: 'toolbar',
                                'aria-label': this.t('controls')},
                        this.micButton, this.cameraButton, this.shareButton, this.leaveButton);
      this.notice = h('p', {class: 'chorus-notice', hidden: true});
    }

    showWaiting() {
      this.waitingName = h('strong', {class: 'chorus-pseudonym'},
                           this.participant.display_name || '');
      this.shareButton.hidden = true;
      this.setView('waiting',
                   h('section', {class: 'chorus-waiting', 'aria-labelledby': 'chorus-wait-title'},
                     h('h2', {id: 'chorus-wait-title'}, this.t('waiting_title')),
                     h('p', {class: 'chorus-lead'}, this.t('waiting_text')),
                     h('p', {}, this.t('your_name'), ' ', this.waitingName),
                     h('div', {class: 'chorus-waiting-self'}, this.selfView),
                     this.remoteAudio, this.controls));
      this.announce(this.t('waiting_title') + '. ' + this.t('waiting_text'));
    }

    showCall() {
      const session = this.session;
      this.shareButton.hidden = !session.canShare;
      this.speaking = h('p', {class: 'chorus-speaking', 'aria-hidden': 'true'});
      this.panels = h('aside', {class: 'chorus-panels', 'aria-label': this.t('panels')});
      this.setView('call',
                   h('div', {class: 'chorus-call'},
                     h('section', {class: 'chorus-stage', 'aria-label': this.t('remote_view')},
                       this.remoteVideo, this.selfView, this.soundButton, this.speaking),
                     this.notice, this.controls, this.panels, this.remoteAudio));
      playMedia(this.remoteVideo).catch(() => {});
      playMedia(this.remoteAudio).catch(() => this.offerSound());
      playMedia(this.selfView).catch(() => {});
    }

    // Mute is the room's (everyone sees it in the roster), asked for through the session; the
    // microphone goes silent at once.
    toggleMic() {
      const on = !this.micOn;
      this.ownMute = true;  // the next change of `muted` is this page's own
      this.showMic(on);
      this.announce(this.t(on ? 'mic_is_on' : 'mic_is_off'));
      this.session.setMicrophoneEnabled(on).catch((error) => {
        this.ownMute = false;
        this.showMic(!(this.participant && this.participant.muted));
        this.notify(this.t('request_failed', {code: error.code || 'error'}), error.code);
      });
    }

    showMic(on) {
      this.micOn = on;
      if (!this.micButton || this.micButton.disabled) return;
      this.micButton.setAttribute('aria-pressed', String(!on));
      this.micButton.textContent = this.t(on ? 'mic_off' : 'mic_on');
    }

    async toggleCamera() {
      if (!this.session || !this.session.hasCamera) {
        await this.startCamera();
        return;
      }
      this.cameraOn = !this.cameraOn;
      this.session.setCameraEnabled(this.cameraOn);
      this.cameraButton.setAttribute('aria-pressed', String(!this.cameraOn));
      this.cameraButton.textContent = this.t(this.cameraOn ? 'camera_off' : 'camera_on');
      this.selfView.classList.toggle('chorus-off', !this.cameraOn);
      this.announce(this.t(this.cameraOn ? 'camera_is_on' : 'camera_is_off'));
    }

    // The first camera of a call that started without one.
    async startCamera() {
      if (!this.session || !this.session.participant) {
        this.notify(this.t('camera_later'), 'not_joined');
        return;
      }
      this.cameraButton.disabled = true;
      try {
        const stream = await this.session.startCamera();
        if (stream) {
          this.selfView.srcObject = stream;
          this.selfView.hidden = false;
          playMedia(this.selfView).catch(() => {});
        }
        this.cameraOn = true;
        this.selfView.classList.remove('chorus-off');
        this.cameraButton.setAttribute('aria-pressed', 'false');
        this.cameraButton.textContent = this.t('camera_off');
        this.announce(this.t('camera_is_on'));
      } catch (error) {
        const code = error.code || error.name;
        const known = ['camera_denied', 'camera_absent', 'camera_busy'].includes(code);
        this.notify(this.t(known ? code : 'camera_failed'), code);
      } finally {
        this.cameraButton.disabled = false;
      }
    }

    async toggleShare() {
      this.shareButton.disabled = true;
      try {
        if (this.session.sharing) await this.session.stopShare();
        else await this.session.startShare();
      } catch (error) {
        // The person cancelled the browser's picker: nothing to say.
        if (error.name !== 'NotAllowedError' && error.name !== 'AbortError') {
          this.notify(this.t('share_failed'), error.code || error.name);
        }
      } finally {
        this.shareButton.disabled = false;
      }
    }

    async leave() {
      this.leaveButton.disabled = true;
      await this.session.leave();
    }

    // A request from a button: the button is busy meanwhile, a refusal is said aloud.
    async act(button, request) {
      if (button) button.disabled = true;
      try {
        await request();
      } catch (error) {
        this.notify(this.t('request_failed', {code: error.code || 'error'}), error.code);
      } finally {
        if (button && button.isConnected) button.disabled = false;
      }
    }

    nameOf(resource) {
      const who = this.roster.find((p) => p.name === resource);
      return who ? who.display_name : '';
    }

    renderSpeaking() {
      if (!this.speaking) return;
      const names = [...this.speakers].map((name) => this.nameOf(name)).filter(Boolean);
      this.speaking.textContent = names.length ? this.t('speaking', {names: names.join(', ')}) : '';
      this.speaking.hidden = names.length === 0;
      const self = this.participant && this.speakers.has(this.participant.name);
      this.selfView.classList.toggle('chorus-is-speaking', !!self);
      if (this.panels) {
        for (const row of this.panels.querySelectorAll('[data-participant]')) {
          row.classList.toggle('chorus-is-speaking', this.speakers.has(row.dataset.participant));
        }
      }
    }

    renderPanels() {
      if (this.view !== 'call' || !this.panels) return;
      const me = this.participant;
      const focus = document.activeElement && this.panels.contains(document.activeElement)
          ? document.activeElement.dataset.focusKey : '';
      const sections = [];
      if (me.muted && this.mutedByHost) {
        sections.push(h('p', {class: 'chorus-notice'}, this.t('muted_by_host')));
      }
      if (me.role === 'interpreter') sections.push(this.renderBooth());
      const languages = (this.roomInfo && this.roomInfo.languages) || [];
      if (languages.length) sections.push(this.renderListen(languages));
      if (me.role === 'host') sections.push(this.renderHost());
      sections.push(this.renderPeople());
      this.panels.replaceChildren(...sections);
      this.renderSpeaking();
      if (focus) {
        const again = this.panels.querySelector('[data-focus-key="' + CSS.escape(focus) + '"]');
        if (again) again.focus();
      }
    }

    // Interpreters: the channel spoken into (its languages that are room channels, or the
    // floor), on air or standby, and hand over.
    renderBooth() {
      const me = this.participant;
      const channels = (this.roomInfo && this.roomInfo.languages) || [];
      const pair = me.interpreter_languages || [];
      const options = pair.filter((code) => channels.includes(code));
      const floorLanguage = pair.find((code) => !channels.includes(code));
      const choices = [...options.map((code) => ({code, label: this.languageName(code)})),
                       {code: '', label: floorLanguage
                           ? this.t('floor_language', {language: this.languageName(floorLanguage)})
                           : this.t('floor')}];
      const speak = me.speak_language || '';
      const onChannel = speak !== '';
      const status = !onChannel ? this.t('booth_floor') : me.on_air ? this.t('on_air')
                                                                    : this.t('standby');
      return h('section', {class: 'chorus-panel chorus-booth', 'aria-labelledby': 'chorus-booth-title'},
               h('h2', {id: 'chorus-booth-title'}, this.t('booth')),
               h('p', {class: 'chorus-air ' + (onChannel && me.on_air ? 'chorus-on-air'
                                                                       : 'chorus-standby'),
                       'data-air': onChannel ? (me.on_air ? 'on' : 'standby') : 'floor'}, status),
               h('fieldset', {class: 'chorus-choice'},
                 h('legend', {}, this.t('speak_into')),
                 choices.map((choice) => h('button', {
                   type: 'button', 'data-action': 'speak', 'data-language': choice.code,
                   'data-focus-key': 'speak-' + choice.code, 'aria-pressed': String(speak === choice.code),
                   onclick: (event) => this.act(event.currentTarget,
                                                () => this.session.speak(choice.code)),
                 }, choice.label))),
               onChannel && !me.on_air
                 ? h('button', {type: 'button', class: 'chorus-primary', 'data-action': 'hand_over',
                                'data-focus-key': 'hand_over',
                                onclick: (event) => this.act(event.currentTarget,
                                                             () => this.session.handOver())},
                     this.t('hand_over'))
                 : null);
    }

    renderListen(languages) {
      const heard = this.participant.listen_language || '';
      const id = 'chorus-listen';
      const select = h('select', {id, 'data-focus-key': 'listen', 'data-pick': 'listen',
                                  onchange: () => this.act(select, () =>
                                      this.session.listen(select.value))},
                       [''].concat(languages).map((code) =>
                           h('option', {value: code, selected: code === heard},
                             code ? this.languageName(code) : this.t('floor_original'))));
      return h('section', {class: 'chorus-panel chorus-listen'},
               h('label', {for: id}, this.t('listen_to')), select);
    }

    renderHost() {
      const locked = !!(this.roomInfo && this.roomInfo.locked);
      const consents = this.consents.map((c) => h('p', {class: 'chorus-consent'},
                                                   this.t('consent_recorded',
                                                          {reference: c.reference}),
                                                   c.name ? ' (' + c.name + ')' : ''));
      const endArea = this.confirmEnd
          ? h('div', {class: 'chorus-confirm', role: 'group', 'aria-labelledby': 'chorus-end-q'},
              h('p', {id: 'chorus-end-q'}, this.t('end_confirm')),
              h('button', {type: 'button', class: 'chorus-danger', 'data-action': 'end-confirm',
                           'data-focus-key': 'end-confirm',
                           onclick: (event) => this.act(event.currentTarget,
                                                        () => this.session.end())},
                this.t('end_yes')),
              h('button', {type: 'button', 'data-action': 'end-cancel', 'data-focus-key': 'end',
                           onclick: () => { this.confirmEnd = false; this.renderPanels(); }},
                this.t('cancel')))
          : h('button', {type: 'button', class: 'chorus-danger', 'data-action': 'end',
                         'data-focus-key': 'end',
                         onclick: () => {
                           this.confirmEnd = true;
                           this.renderPanels();
                           const yes = this.panels.querySelector('[data-action="end-confirm"]');
                           if (yes) yes.focus();
                         }}, this.t('end_meeting'));
      return h('section', {class: 'chorus-panel chorus-host', 'aria-labelledby': 'chorus-host-title'},
               h('h2', {id: 'chorus-host-title'}, this.t('room')),
               h('p', {class: 'chorus-room-state', 'data-locked': String(locked)},
                 this.t(locked ? 'room_locked_state' : 'room_open_state')),
               consents,
               h('div', {class: 'chorus-actions'},
                 h('button', {type: 'button', 'data-action': locked ? 'unlock' : 'lock',
                              'data-focus-key': 'lock', 'aria-pressed': String(locked),
                              onclick: (event) => this.act(event.currentTarget, () =>
                                  locked ? this.session.unlock() : this.session.lock())},
                   this.t(locked ? 'unlock' : 'lock')),
                 endArea));
    }

    // Everyone in the room: waiting ones first (hosts admit or deny them), then the admitted.
    renderPeople() {
      const me = this.participant;
      const host = me.role === 'host';
      const waiting = this.roster.filter((p) => p.state === 'waiting');
      const admitted = this.roster.filter((p) => p.state !== 'waiting');
      const button = (action, label, participant, request, extra) =>
          h('button', Object.assign({type: 'button', 'data-action': action,
                                     'data-focus-key': action + '-' + participant.name,
                                     'aria-label': this.t(label + '_who',
                                                          {name: participant.display_name}),
                                     onclick: (event) => this.act(event.currentTarget, request)},
                                    extra || {}),
            this.t(label));
      const row = (p) => {
        const self = p.name === me.name;
        const tags = [];
        if (self) tags.push(this.t('you'));
        if (p.role === 'host') tags.push(this.t('role_host'));
        if (p.role === 'interpreter') {
          // With its languages, so that a deaf participant finds the sign-language interpreter.
          const pair = (p.interpreter_languages || []).map((code) => this.languageName(code));
          tags.push(this.t('role_interpreter') + (pair.length ? ' (' + pair.join(' – ') + ')' : ''));
        }
        if (p.muted) tags.push(this.t('muted'));
        if (p.content_sharing) tags.push(this.t('sharing'));
        const actions = [];
        if (p.state === 'waiting') {
          if (host) {
            actions.push(button('admit', 'admit', p, () => this.session.admit(p.name),
                                {class: 'chorus-primary'}));
            actions.push(button('deny', 'deny', p, () => this.session.deny(p.name)));
          }
        } else {
          const pinned = me.pinned_participant === p.name;
          if (!self) {
            actions.push(button(pinned ? 'unpin' : 'pin', pinned ? 'unpin' : 'pin', p,
                                () => this.session.pin(pinned ? '' : p.name),
                                {'aria-pressed': String(pinned)}));
          }
          if (host && !self) {
            actions.push(button(p.muted ? 'unmute' : 'mute', p.muted ? 'unmute' : 'mute', p,
                                () => this.session.mute(p.name, !p.muted)));
            actions.push(button('remove', 'remove', p, () => this.session.remove(p.name)));
          }
        }
        return h('li', {class: 'chorus-person', 'data-participant': p.name, 'data-state': p.state,
                        'data-role': p.role},
                 h('span', {class: 'chorus-person-name'}, p.display_name || '?'),
                 tags.length ? h('span', {class: 'chorus-tags'}, tags.join(' · ')) : null,
                 h('span', {class: 'chorus-person-actions'}, actions));
      };
      return h('section', {class: 'chorus-panel chorus-people', 'aria-labelledby': 'chorus-people-title'},
               h('h2', {id: 'chorus-people-title'}, this.t('people', {n: admitted.length})),
               waiting.length
                 ? [h('h3', {}, this.t('waiting_list', {n: waiting.length})),
                    h('ul', {class: 'chorus-list chorus-waiting-list'}, waiting.map(row))]
                 : null,
               h('ul', {class: 'chorus-list'}, admitted.map(row)));
    }

    // --- The end ------------------------------------------------------------------------------

    end(code) {
      if (this.ended) return;
      this.ended = true;
      this.stopMeter();
      if (this.session) this.session.leave().catch(() => {});
      if (this.media) this.media.stream.getTracks().forEach((track) => track.stop());
      const ending = kEndings[code] || {text: 'error_generic', retry: true};
      const actions = [];
      // A refused join spends no invite: the same link may work a little later.
      if (ending.retry && this.options.invite) {
        actions.push(h('button', {type: 'button', class: 'chorus-primary', 'data-action': 'retry',
                                  onclick: () => this.restart()}, this.t('try_again')));
      }
      this.connection.hidden = true;
      this.setView('ended', h('section', {class: 'chorus-ended', 'data-reason': code,
                                          'aria-labelledby': 'chorus-end-title'},
                              h('h2', {id: 'chorus-end-title'}, this.t(ending.text)),
                              h('p', {}, this.t(ending.text + '_more')),
                              actions.length ? h('div', {class: 'chorus-actions'}, actions) : null));
      this.announce(this.t(ending.text));
      const heading = this.screen.querySelector('h2');
      if (heading) {
        heading.tabIndex = -1;
        heading.focus();
      }
      if (this.options.onEnd) this.options.onEnd(code);
    }

    // Back to the device check with the same (unspent) invitation.
    restart() {
      this.ended = false;
      this.session = null;
      this.participant = null;
      this.roster = [];
      this.speakers = new Set();
      this.consents = [];
      this.confirmEnd = false;
      this.media = null;
      this.showCheck();
    }
  }

  // Mounts the client into `element`. options: room, invite (from the link), server (default:
  // where chorus.js came from), lang (default: the browser's), onEnd(code). Returns an object
  // with leave().
  function mount(element, options) {
    const app = new App(element, options);
    return {
      leave: () => (app.session ? app.session.leave() : Promise.resolve()),
      get view() { return app.view; },
      get lang() { return app.lang; },
    };
  }

  global.ChorusApp = Object.freeze({mount, parseLink});

  // index.html: the link's room and invite from the fragment, then the fragment removed from the
  // address bar (and from history) before anything else happens.
  function start() {
    const element = document.getElementById('chorus-app');
    if (!element || !element.hasAttribute('data-autostart')) return;
    const link = parseLink(global.location.hash);
    if (global.location.hash) {
      global.history.replaceState(null, '', global.location.pathname + global.location.search);
    }
    // Another invitation link opened in this tab changes only the fragment: start afresh.
    global.addEventListener('hashchange', () => {
      if (parseLink(global.location.hash).invite) global.location.reload();
    });
    const app = mount(element, link);
    document.documentElement.lang = app.lang;
    document.title = I18n.t(app.lang, 'title');
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})(window);
