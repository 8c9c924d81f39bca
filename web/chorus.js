// Chorus web client library (window.Chorus): the signalling WebSocket of docs/web.md and the
// browser's RTCPeerConnection. No user interface: app.js builds one on it, and a platform may use
// it directly. Loaded from a Chorus server (https://chorus-host/chorus.js), it talks to that
// server, whatever page it is loaded into.
//
// Privacy: nothing here logs tokens, names or SDP anywhere.
(function (global) {
  'use strict';

  const script = document.currentScript;
  // The server this file was loaded from: its WebSocket is at /ws.
  const kDefaultServer = script && script.src ? new URL(script.src, global.location.href).origin
                                              : global.location.origin;
  const kHelloTimeoutMs = 10000;
  const kRequestTimeoutMs = 20000;
  const kGatherTimeoutMs = 5000;
  // How long ICE may stay "disconnected" before it is restarted (a network change).
  const kDisconnectedGraceMs = 4000;
  const kMaxIceRestarts = 3;
  // A socket that breaks while in the room (the web listener restarted or was replaced): the
  // session is taken up again on a new socket, retried with these pauses for up to a minute; the
  // call's media goes on meanwhile.
  const kResumePausesMs = [250, 500, 1000, 2000, 3000, 5000];
  const kResumeWindowMs = 60000;

  class ChorusError extends Error {
    constructor(code, message) {
      super(message || code);
      this.name = 'ChorusError';
      this.code = code;
    }
  }

  function webSocketUrl(server) {
    const url = new URL('/ws', server);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  }

  // What getUserMedia's failure means to a person: refused, absent, or taken by another program.
  function deviceProblem(error) {
    if (!error) return '';
    switch (error.name) {
      case 'NotAllowedError':
      case 'SecurityError':
        return 'denied';
      case 'NotFoundError':
      case 'OverconstrainedError':
      case 'TypeError':
        return 'absent';
      case 'NotReadableError':
      case 'AbortError':
        return 'busy';
      default:
        return 'absent';
    }
  }

  const kVideoConstraints = {width: {ideal: 640}, height: {ideal: 360}, frameRate: {ideal: 15}};

  // Opens the microphone and the camera, each if it can. Resolves (never rejects) with
  // {stream, audio, video}: audio and video are '' when that device works, else 'denied',
  // 'absent', 'busy' or 'unsupported'. The stream holds whatever could be opened.
  async function openMedia(options) {
    const want = Object.assign({audio: true, video: true}, options || {});
    const devices = global.navigator.mediaDevices;
    if (!devices || !devices.getUserMedia) {
      return {stream: new MediaStream(), audio: 'unsupported', video: 'unsupported'};
    }
    const audio = want.audioDeviceId ? {deviceId: {exact: want.audioDeviceId}} : true;
    const video = Object.assign({}, kVideoConstraints,
                                want.videoDeviceId ? {deviceId: {exact: want.videoDeviceId}} : {});
    const result = {stream: null, audio: want.audio ? '' : 'off', video: want.video ? '' : 'off'};
    if (want.audio && want.video) {
      try {
        result.stream = await devices.getUserMedia({audio, video});
        return result;
      } catch (error) {
        // One of the two failed: try each alone, to know which and to keep the other.
      }
    }
    const tracks = [];
    for (const kind of ['audio', 'video']) {
      if (!want[kind]) continue;
      try {
        const stream = await devices.getUserMedia(kind === 'audio' ? {audio} : {video});
        tracks.push(...stream.getTracks());
      } catch (error) {
        result[kind] = deviceProblem(error);
      }
    }
    result.stream = new MediaStream(tracks);
    return result;
  }

  async function listDevices() {
    const devices = global.navigator.mediaDevices;
    if (!devices || !devices.enumerateDevices) return {audio: [], video: []};
    const all = await devices.enumerateDevices();
    return {
      audio: all.filter((d) => d.kind === 'audioinput' && d.deviceId),
      video: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
    };
  }

  function iceServersFrom(list) {
    if (!Array.isArray(list)) return [];
    return list.filter((s) => s && s.urls).map((s) => {
      const server = {urls: s.urls};
      if (s.username) server.username = s.username;
      if (s.credential) server.credential = s.credential;
      return server;
    });
  }

  // One participant's session: the WebSocket, the peer connection, and the requests of
  // docs/web.md. Events (CustomEvent, the payload in `detail`):
  //   state      {participant}         this participant changed (admitted, muted, on air, ...)
  //   roster     {participants}        everyone (admitted participants only receive it)
  //   speakers   {language, participants}
  //   locked     {locked}
  //   consent    {participant, consent_reference}  (hosts)
  //   left       {reason}              out of the room: a reason of docs/web.md, or
  //                                    'connection_lost' when the socket closed unasked
  //   connection {state}               'connecting', 'connected', 'reconnecting', 'failed'
  //   resumed    {participant}         the signalling came back after its socket broke (the
  //                                    call itself went on)
  //   sharing    {sharing}             this participant's screen share started or stopped
  //   error      {code, message}       a failure not tied to a request the caller awaits
  class Session extends EventTarget {
    constructor(options) {
      super();
      const o = options || {};
      this.room = o.room || '';
      this.invite = o.invite || '';
      this.server = o.server || kDefaultServer;
      this.participant = null;
      this.roomInfo = null;
      this.roster = [];
      this.sharing = false;
      this.connectionState = 'new';
      // The mixed audio and the composed view, filled once the peer connection exists.
      this.remoteAudio = new MediaStream();
      this.remoteVideo = new MediaStream();
      this._socket = null;
      this._pc = null;
      this._audio = null;
      this._video = null;
      this._screen = null;
      this._screenTrack = null;
      this._nextId = 1;
      this._pending = new Map();
      this._hello = null;
      this._negotiation = Promise.resolve();
      this._left = false;
      this._restarts = 0;
      this._disconnectedTimer = 0;
      this._sessionToken = '';
      this._resuming = false;
    }

    on(type, listener) {
      this.addEventListener(type, (event) => listener(event.detail));
      return this;
    }

    _emit(type, detail) {
      this.dispatchEvent(new CustomEvent(type, {detail}));
    }

    // Joins the room with the tracks of `stream` (may be empty: then only receives). Resolves
    // with {participant, room}; rejects with a ChorusError whose code is one of docs/web.md
    // ('invite_used', 'room_locked', ...) or 'network', 'timeout', 'unsupported'.
    async join(stream) {
      if (!global.RTCPeerConnection || !global.WebSocket) {
        throw new ChorusError('unsupported', 'WebRTC is not available in this browser');
      }
      const hello = await this._connect();
      this._setConnection('connecting');
      const pc = new RTCPeerConnection({iceServers: iceServersFrom(hello.ice_servers)});
      this._pc = pc;
      const local = stream || new MediaStream();
      const audioTrack = local.getAudioTracks()[0];
      const videoTrack = local.getVideoTracks()[0];
      // Always one audio and one camera section, sending or not: the offer Chorus expects.
      this._audio = audioTrack
          ? pc.addTransceiver(audioTrack, {direction: 'sendrecv', streams: [local]})
          : pc.addTransceiver('audio', {direction: 'recvonly'});
      this._video = videoTrack
          ? pc.addTransceiver(videoTrack, {direction: 'sendrecv', streams: [local]})
          : pc.addTransceiver('video', {direction: 'recvonly'});
      this._preferCodecs(this._video);
      this.remoteAudio.addTrack(this._audio.receiver.track);
      this.remoteVideo.addTrack(this._video.receiver.track);
      pc.addEventListener('iceconnectionstatechange', () => this._onIceState());

      const offer = await this._completeOffer();
      const joined = await this._request({type: 'join', room: this.room, invite: this.invite,
                                          sdp: offer}, 'joined');
      this.invite = '';  // single use: not kept once spent
      this._sessionToken = joined.session_token || '';
      this.participant = joined.participant || null;
      this.roomInfo = joined.room || null;
      await pc.setRemoteDescription({type: 'answer', sdp: joined.sdp});
      return {participant: this.participant, room: this.roomInfo};
    }

    _connect() {
      return new Promise((resolve, reject) => {
        let socket;
        try {
          socket = new WebSocket(webSocketUrl(this.server));
        } catch (error) {
          reject(new ChorusError('network', 'cannot open the connection'));
          return;
        }
        this._socket = socket;
        const timer = setTimeout(() => {
          reject(new ChorusError('timeout', 'the server did not greet'));
          socket.close();
        }, kHelloTimeoutMs);
        this._hello = (hello) => {
          clearTimeout(timer);
          this._refused = null;
          resolve(hello);
        };
        // Refused instead of greeted (too many connections): said with its code.
        this._refused = (error) => {
          clearTimeout(timer);
          this._hello = null;
          reject(error);
        };
        socket.addEventListener('message', (event) => this._onMessage(event.data));
        socket.addEventListener('close', () => {
          clearTimeout(timer);
          reject(new ChorusError('network', 'the connection closed'));
          this._onClose();
        });
      });
    }

    // Camera codecs Chorus takes first (VP8, then constrained-baseline H.264); the others stay
    // offered behind them where the browser lets an offer be reordered.
    _preferCodecs(transceiver) {
      if (!transceiver.setCodecPreferences || !global.RTCRtpReceiver ||
          !RTCRtpReceiver.getCapabilities) {
        return;
      }
      const capabilities = RTCRtpReceiver.getCapabilities('video');
      if (!capabilities) return;
      const rank = (codec) => {
        const type = codec.mimeType.toLowerCase();
        if (type === 'video/vp8') return 0;
        if (type === 'video/h264') return /42e0|42c0|4200/.test(codec.sdpFmtpLine || '') ? 1 : 2;
        if (type === 'video/rtx' || type === 'video/red' || type === 'video/ulpfec') return 4;
        return 3;
      };
      const codecs = capabilities.codecs.slice().sort((a, b) => rank(a) - rank(b));
      try {
        transceiver.setCodecPreferences(codecs);
      } catch (error) {
        // Keep the browser's order.
      }
    }

    // Sets a new local offer and waits for ICE gathering to finish (Chorus takes no trickled
    // candidates); after kGatherTimeoutMs it goes on with the candidates it has. An ICE restart
    // gathers anew, but the state may still read "complete" from the last round just after
    // setLocalDescription: then the end of the new round (a null candidate) is what counts.
    async _completeOffer(options) {
      const pc = this._pc;
      const restart = !!(options && options.iceRestart);
      let roundEnded = false;
      let wake = () => {};
      const onCandidate = (event) => {
        if (!event.candidate) {
          roundEnded = true;
          wake();
        }
      };
      const onState = () => wake();
      const gathered = () => (restart ? roundEnded : pc.iceGatheringState === 'complete');
      pc.addEventListener('icecandidate', onCandidate);
      pc.addEventListener('icegatheringstatechange', onState);
      try {
        await pc.setLocalDescription(await pc.createOffer(options));
        if (!gathered()) {
          await new Promise((resolve) => {
            const timer = setTimeout(resolve, kGatherTimeoutMs);
            wake = () => {
              if (!gathered()) return;
              clearTimeout(timer);
              resolve();
            };
          });
        }
      } finally {
        pc.removeEventListener('icecandidate', onCandidate);
        pc.removeEventListener('icegatheringstatechange', onState);
      }
      return pc.localDescription.sdp;
    }

    _send(message) {
      if (!this._socket || this._socket.readyState !== WebSocket.OPEN) return false;
      this._socket.send(JSON.stringify(message));
      return true;
    }

    // Sends a request with a fresh id; resolves with the reply of type `expect` (default 'ok'),
    // rejects with a ChorusError on an `error` reply, a closed socket or after a timeout.
    _request(message, expect) {
      const id = this._nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this._pending.delete(id);
          reject(new ChorusError('timeout', 'no reply from the server'));
        }, kRequestTimeoutMs);
        this._pending.set(id, {expect: expect || 'ok', resolve, reject, timer});
        if (!this._send(Object.assign({id}, message))) {
          clearTimeout(timer);
          this._pending.delete(id);
          reject(new ChorusError('network', 'not connected'));
        }
      });
    }

    _onMessage(data) {
      let message;
      try {
        message = JSON.parse(data);
      } catch (error) {
        return;
      }
      if (!message || typeof message.type !== 'string') return;
      const pending = message.id !== undefined ? this._pending.get(message.id) : undefined;
      if (pending) {
        this._pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.type === 'error') {
          pending.reject(new ChorusError(message.code || 'error', message.message));
        } else {
          pending.resolve(message);
        }
        if (message.type === 'error' || message.type === pending.expect) return;
      }
      switch (message.type) {
        case 'hello':
          if (this._hello) this._hello(message);
          this._hello = null;
          break;
        case 'state': {
          const before = this.participant;
          this.participant = message.participant || this.participant;
          // One microphone state, the room's: muted by a host (or from another of its pages),
          // the track goes silent here too; unmuted, it sends again.
          const track = this._audio && this._audio.sender.track;
          if (track && (!before || before.muted !== this.participant.muted)) {
            track.enabled = !this.participant.muted;
          }
          this._emit('state', {participant: this.participant});
          break;
        }
        case 'roster':
          this.roster = Array.isArray(message.participants) ? message.participants : [];
          this._emit('roster', {participants: this.roster});
          break;
        case 'speakers':
          this._emit('speakers', {language: message.language || '',
                                  participants: Array.isArray(message.speakers)
                                      ? message.speakers : []});
          break;
        case 'locked':
          if (this.roomInfo) this.roomInfo.locked = !!message.locked;
          this._emit('locked', {locked: !!message.locked});
          break;
        case 'consent': {
          const who = message.consent_participant;
          this._emit('consent', {participant: typeof who === 'string' ? who : '',
                                 consent_reference: message.consent_reference || ''});
          break;
        }
        case 'left':
          this._finish(message.reason || 'left');
          break;
        case 'error':
          if (this._hello && this._refused) {
            this._refused(new ChorusError(message.code || 'error', message.message || ''));
            this._refused = null;
            break;
          }
          this._emit('error', {code: message.code || 'error', message: message.message || ''});
          break;
        default:
          break;  // ok/answer to a request nobody waits for any more, or a newer message type
      }
    }

    _onClose() {
      for (const pending of this._pending.values()) {
        clearTimeout(pending.timer);
        pending.reject(new ChorusError('network', 'the connection closed'));
      }
      this._pending.clear();
      if (this._resuming || this._left) return;  // the resume loop handles its own sockets
      if (this._pc && this._sessionToken && this.participant) {
        this._resume();
      } else if (this._pc) {
        this._finish('connection_lost');
      }
    }

    // Takes the session up again on a new socket after this one broke while in the room.
    async _resume() {
      this._resuming = true;
      this._setConnection('reconnecting');
      const start = Date.now();
      for (let attempt = 0; !this._left; ++attempt) {
        const pause = kResumePausesMs[Math.min(attempt, kResumePausesMs.length - 1)];
        await new Promise((resolve) => setTimeout(resolve, pause));
        if (this._left) break;
        try {
          await this._connect();
          const reply = await this._request({type: 'resume', room: this.room,
                                             participant: this.participant.name,
                                             session_token: this._sessionToken}, 'resumed');
          this._sessionToken = reply.session_token || '';
          this.participant = reply.participant || this.participant;
          this.roomInfo = reply.room || this.roomInfo;
          this._resuming = false;
          const ice = this._pc ? this._pc.iceConnectionState : '';
          if (ice === 'connected' || ice === 'completed') this._setConnection('connected');
          this._emit('resumed', {participant: this.participant});
          this._emit('state', {participant: this.participant});
          return;
        } catch (error) {
          if (this._socket && this._socket.readyState <= WebSocket.OPEN) this._socket.close();
          // The participant is no longer in the room (removed, or the room ended meanwhile).
          if (error.code === 'session_ended' || error.code === 'bad_request') break;
          if (Date.now() - start > kResumeWindowMs) break;
        }
      }
      this._resuming = false;
      this._finish('connection_lost');
    }

    _finish(reason) {
      if (this._left) return;
      this._left = true;
      clearTimeout(this._disconnectedTimer);
      this._stopScreenTrack();
      if (this._pc) this._pc.close();
      if (this._socket && this._socket.readyState <= WebSocket.OPEN) this._socket.close();
      this._setConnection('closed');
      this._emit('left', {reason});
    }

    _setConnection(state) {
      if (this.connectionState === state) return;
      this.connectionState = state;
      this._emit('connection', {state});
    }

    _onIceState() {
      const pc = this._pc;
      if (!pc || this._left) return;
      const ice = pc.iceConnectionState;
      clearTimeout(this._disconnectedTimer);
      if (ice === 'connected' || ice === 'completed') {
        this._restarts = 0;
        this._setConnection('connected');
      } else if (ice === 'failed') {
        this.restartIce();
      } else if (ice === 'disconnected') {
        this._disconnectedTimer = setTimeout(() => this.restartIce(), kDisconnectedGraceMs);
      }
    }

    // A new offer through update_media, one at a time.
    _renegotiate(prepare, options) {
      const step = this._negotiation.then(async () => {
        if (this._left) throw new ChorusError('network', 'not in the room');
        if (prepare) await prepare();
        const sdp = await this._completeOffer(options);
        const reply = await this._request({type: 'update_media', sdp}, 'answer');
        await this._pc.setRemoteDescription({type: 'answer', sdp: reply.sdp});
      });
      this._negotiation = step.catch(() => {});
      return step;
    }

    // An ICE restart (new credentials, same DTLS and place in the room), as after moving from
    // Wi-Fi to mobile data. Gives up after kMaxIceRestarts in a row without connecting.
    async restartIce() {
      if (!this._pc || this._left) return;
      if (this._restarts >= kMaxIceRestarts) {
        this._setConnection('failed');
        return;
      }
      this._restarts++;
      this._setConnection('reconnecting');
      try {
        await this._renegotiate(null, {iceRestart: true});
      } catch (error) {
        this._emit('error', {code: error.code || 'media', message: error.message});
      }
    }

    // The microphone on or off for everyone: the track goes silent at once, and the room is
    // told (the roster shows the participant muted and the media node drops its voice). Resolves
    // on the server's "ok" with the participant.
    setMicrophoneEnabled(enabled) {
      const track = this._audio && this._audio.sender.track;
      if (track) track.enabled = !!enabled;
      return this._request({type: 'mute', muted: !enabled});
    }

    // The camera on or off: the track keeps flowing as black.

    setCameraEnabled(enabled) {
      const track = this._video && this._video.sender.track;
      if (track) track.enabled = !!enabled;
    }

    get hasCamera() { return !!(this._video && this._video.sender.track); }

    // A camera turned on after the join (there was none, or no permission, at the start): the
    // camera section goes from receiving only to sending as well, renegotiated through
    // update_media. Resolves with the camera's stream (for the self-view); rejects with a
    // ChorusError whose code is 'camera_denied', 'camera_absent' or 'camera_busy', or that of
    // the renegotiation.
    async startCamera() {
      if (!this._video || this._left) throw new ChorusError('network', 'not in the room');
      if (this.hasCamera) return null;
      let stream;
      try {
        stream = await global.navigator.mediaDevices.getUserMedia({video: kVideoConstraints});
      } catch (error) {
        throw new ChorusError('camera_' + deviceProblem(error), error.message || error.name);
      }
      const track = stream.getVideoTracks()[0];
      try {
        await this._renegotiate(async () => {
          await this._video.sender.replaceTrack(track);
          if (this._video.sender.setStreams) this._video.sender.setStreams(stream);
          this._video.direction = 'sendrecv';
        });
      } catch (error) {
        await this._video.sender.replaceTrack(null).catch(() => {});
        this._video.direction = 'recvonly';
        track.stop();
        throw error;
      }
      return stream;
    }

    get canShare() {
      return !!(global.navigator.mediaDevices && global.navigator.mediaDevices.getDisplayMedia);
    }

    // Shares a screen (the browser asks which), shown large to everyone. The first share adds a
    // second video section (renegotiated through update_media); it stays afterwards, idle between
    // shares, so that sharing again needs no new offer. The share ends with stopShare() or with
    // the browser's own "stop sharing".
    async startShare() {
      if (this.sharing) return;
      const display = await global.navigator.mediaDevices.getDisplayMedia(
          {video: {frameRate: {ideal: 10, max: 15}}, audio: false});
      const track = display.getVideoTracks()[0];
      if ('contentHint' in track) track.contentHint = 'detail';
      this._screenTrack = track;
      track.addEventListener('ended', () => {
        if (this._screenTrack === track) this.stopShare().catch(() => {});
      });
      try {
        if (!this._screen) {
          await this._renegotiate(async () => {
            this._screen = this._pc.addTransceiver(track, {direction: 'sendrecv',
                                                           streams: [display]});
            this._preferCodecs(this._screen);
          });
        } else {
          await this._screen.sender.replaceTrack(track);
        }
        await this._request({type: 'share', enabled: true});
      } catch (error) {
        this._stopScreenTrack();
        if (this._screen) await this._screen.sender.replaceTrack(null).catch(() => {});
        throw error;
      }
      this.sharing = true;
      this._emit('sharing', {sharing: true});
    }

    async stopShare() {
      if (!this.sharing && !this._screenTrack) return;
      this.sharing = false;
      this._stopScreenTrack();
      this._emit('sharing', {sharing: false});
      if (this._left) return;
      if (this._screen) await this._screen.sender.replaceTrack(null).catch(() => {});
      await this._request({type: 'share', enabled: false}).catch(() => {});
    }

    _stopScreenTrack() {
      if (this._screenTrack) this._screenTrack.stop();
      this._screenTrack = null;
    }

    admit(participant) { return this._request({type: 'admit', participant}); }
    deny(participant) { return this._request({type: 'deny', participant}); }
    remove(participant) { return this._request({type: 'remove', participant}); }
    mute(participant, muted) {
      return this._request({type: 'mute', participant, muted: muted !== false});
    }
    lock() { return this._request({type: 'lock'}); }
    unlock() { return this._request({type: 'unlock'}); }
    end() { return this._request({type: 'end'}); }
    listen(language) { return this._request({type: 'listen', language: language || ''}); }
    speak(language) { return this._request({type: 'speak', language: language || ''}); }
    handOver() { return this._request({type: 'hand_over'}); }
    pin(participant) { return this._request({type: 'pin', participant: participant || ''}); }

    // Leaves the room: waits (briefly) for the server's `left`, then closes everything.
    async leave() {
      if (this._left) return;
      if (this._send({type: 'leave'})) {
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 2000);
          this.addEventListener('left', () => {
            clearTimeout(timer);
            resolve();
          }, {once: true});
        });
      }
      this._finish('left');
    }

    // Statistics of the peer connection (RTCStatsReport), or null before joining.
    getStats() {
      return this._pc ? this._pc.getStats() : Promise.resolve(null);
    }
  }

  global.Chorus = Object.freeze({
    Session,
    ChorusError,
    openMedia,
    listDevices,
    server: kDefaultServer,
    version: '1',
  });
})(window);
