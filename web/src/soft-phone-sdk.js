// SoftPhoneSdk: a WebRTC phone in the page, with the API of the vendor's soft-phone-sdk
// 1.0.19 (catalog M10), on JsSIP: SIP over WebSocket to callyard's switch, audio only.

import JsSIP from 'jssip';

import { EventSource, makeLogger } from './emitter.js';

export const SOFT_PHONE_SDK_VERSION = '1.0.19';

const DTMF_TONE = /^[0-9#*]$/;
const AUDIO_ONLY = { audio: true, video: false };
const OFFER_AUDIO_ONLY = { offerToReceiveAudio: true, offerToReceiveVideo: false };
const REGISTER_EXPIRES = 300; // seconds; JsSIP renews before they run out
const BUSY_HERE = 486; // a second incoming call while one is up

const DEFAULTS = {
  wss: '',
  wssport: '',
  account: '',
  password: '',
  domain: '', // callyard: the SIP domain when it is not the WebSocket's host
  el: '',
  ring: '', // a ringtone URL; '' rings with a tone made in the page
  autoAnswer: true,
  logLevel: 3,
  stunServers: null,
};

/** The WebSocket URL of `wss` and `wssport`: `wss://` when `wss` names no scheme. */
export function socketUrl(wss, wssport) {
  const address = String(wss || '').trim();
  if (!address) throw new TypeError('SoftPhoneSdk: wss (the SIP WebSocket address) is required');
  const url = new URL(/^wss?:\/\//i.test(address) ? address : `wss://${address}`);
  if (wssport !== undefined && wssport !== null && String(wssport) !== '') {
    const port = Number(wssport);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TypeError(`SoftPhoneSdk: wssport ${wssport} is not a port`);
    }
    url.port = String(port);
  }
  return url.href.replace(/\/$/, '');
}

/** The RTCPeerConnection's ICE servers of the `stunServers` option (URLs or RTCIceServer). */
export function iceServers(stunServers) {
  if (!stunServers) return [];
  if (!Array.isArray(stunServers)) throw new TypeError('SoftPhoneSdk: stunServers must be an Array');
  return stunServers.map((server) => (typeof server === 'string' ? { urls: server } : server));
}

export class SoftPhoneSdk extends EventSource {
  constructor(options = {}) {
    super();
    this._ua = null;
    this._session = null;
    this._audio = null; // the <audio> element the remote party plays in
    this._ringing = null;
    this._answered = null; // the incoming session answer() was called on
    this.init(options);
  }

  /** Take new options; a phone already started is stopped first. */
  init(options = {}) {
    if (this._ua) this.stop();
    this._options = { ...DEFAULTS, ...(this._options || {}), ...options };
    this._log = makeLogger('soft-phone-sdk', Number(this._options.logLevel));
    this._emitter.log = this._log;
    this._render();
  }

  /** Connect to the switch and register (options given here replace the constructor's). */
  register(options) {
    if (options) this.init(options);
    if (!this._ua) this._ua = this._createUserAgent();
    if (this._ua.isConnected() || this._started) this._ua.register();
    else {
      this._started = true;
      this._ua.start();
    }
  }

  /** Remove the registration, keeping the connection. */
  unregister() {
    if (this._ua) this._ua.unregister();
  }

  /** Hang up, unregister and close the connection. */
  stop() {
    this._stopRinging();
    if (this._ua) {
      this._ua.stop();
      this._ua = null;
    }
    this._started = false;
    this._session = null;
  }

  isRegistered() {
    return Boolean(this._ua && this._ua.isRegistered());
  }

  /** Call a number or extension. */
  call(called) {
    const target = String(called === undefined || called === null ? '' : called).trim();
    if (!target) throw new TypeError('SoftPhoneSdk.call: called is required');
    if (!this._ua) throw new Error('SoftPhoneSdk.call: register first');
    if (this._hasCall()) throw new Error('SoftPhoneSdk.call: a call is already up');
    const uri = target.startsWith('sip:') ? target : `sip:${target}@${this._domain()}`;
    return this._ua.call(uri, this._mediaOptions({ rtcOfferConstraints: OFFER_AUDIO_ONLY }));
  }

  /** Answer the incoming call. */
  answer() {
    const session = this._session;
    if (!session || session.direction !== 'incoming' || session.isEstablished()) {
      throw new Error('SoftPhoneSdk.answer: no incoming call to answer');
    }
    this._stopRinging();
    this._answered = session;
    try {
      session.answer(this._mediaOptions({}));
      this._emit('Answer', { session });
    } catch (error) {
      this._emit('AnswerFailed', { session, cause: String(error) });
    }
  }

  /** Send one DTMF tone (0-9, #, *) in the audio, as RFC 4733 events. */
  dtmf(num) {
    const tone = String(num === undefined || num === null ? '' : num);
    if (!DTMF_TONE.test(tone)) throw new TypeError(`SoftPhoneSdk.dtmf: ${tone} is not 0-9, # or *`);
    this._established('dtmf').sendDTMF(tone, { transportType: JsSIP.C.DTMF_TRANSPORT.RFC2833 });
  }

  mute() {
    this._established('mute').mute({ audio: true });
  }

  unMute() {
    this._established('unMute').unmute({ audio: true });
  }

  /** End the call: hang up, cancel, or reject one ringing. */
  hangup() {
    this._stopRinging();
    if (this._hasCall()) this._session.terminate();
  }

  /** The browser's media devices. */
  getDevices() {
    return navigator.mediaDevices.enumerateDevices();
  }

  setAutoAnswer(autoAnswer) {
    this._options.autoAnswer = Boolean(autoAnswer);
  }

  /** The call's JsSIP RTCSession (its `connection` is the RTCPeerConnection), or null. */
  getSession() {
    return this._session;
  }

  getVersion() {
    return SOFT_PHONE_SDK_VERSION;
  }

  _emit(event, payload) {
    this._log.debug(event, payload);
    this._emitter.emit(event, payload);
    this._render(event);
  }

  _domain() {
    return this._options.domain || new URL(this._socketUrl()).hostname;
  }

  _socketUrl() {
    return socketUrl(this._options.wss, this._options.wssport);
  }

  _createUserAgent() {
    const { account, password } = this._options;
    if (!account) throw new TypeError('SoftPhoneSdk: account is required');
    if (!password) throw new TypeError('SoftPhoneSdk: password is required');
    JsSIP.debug.disable();
    const ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(this._socketUrl())],
      uri: `sip:${account}@${this._domain()}`,
      password,
      register: true,
      register_expires: REGISTER_EXPIRES,
      session_timers: false,
      user_agent: `callyard soft-phone-sdk ${SOFT_PHONE_SDK_VERSION}`,
    });
    ua.on('connected', () => this._emit('Connected', {}));
    ua.on('disconnected', (e) => this._emit('Disconnected', { code: e && e.code, reason: e && e.reason }));
    ua.on('registered', () => this._emit('Registered', {}));
    ua.on('unregistered', (e) => this._emit('UnRegistered', { cause: e && e.cause }));
    ua.on('registrationFailed', (e) => this._emit('RegistrationFailed', { cause: e && e.cause }));
    ua.on('newRTCSession', (e) => this._onSession(e));
    return ua;
  }

  _mediaOptions(extra) {
    return {
      mediaConstraints: AUDIO_ONLY,
      pcConfig: { iceServers: iceServers(this._options.stunServers) },
      ...extra,
    };
  }

  _hasCall() {
    return Boolean(this._session && !this._session.isEnded());
  }

  _established(method) {
    if (!this._session || !this._session.isEstablished()) {
      throw new Error(`SoftPhoneSdk.${method}: no call is up`);
    }
    return this._session;
  }

  _onSession({ originator, session }) {
    if (this._hasCall()) {
      session.terminate({ status_code: BUSY_HERE });
      return;
    }
    this._session = session;
    if (session.connection) this._playRemote(session.connection);
    else session.on('peerconnection', (e) => this._playRemote(e.peerconnection));
    // Send the offer or answer with the first candidate the switch's relay can reach,
    // not after gathering every one: the relay learns this end's ICE credentials from
    // it, and until then it drops the DTLS handshake the browser starts as soon as its
    // own checks succeed (a retry costs a second or more of silence).
    session.on('icecandidate', (e) => {
      const candidate = e.candidate;
      if (candidate && candidate.protocol === 'udp' && !/\.local$/i.test(candidate.address || '')) {
        e.ready();
      }
    });
    session.on('accepted', () => this._emit('Accepted', { session }));
    session.on('ended', (e) => this._ended(session, e));
    session.on('failed', (e) => {
      if (this._answered === session) {
        this._emit('AnswerFailed', { session, cause: e.cause });
      }
      this._ended(session, e);
    });
    if (originator !== 'remote') return;
    const caller = session.remote_identity;
    this._emit('Invite', {
      session,
      caller: caller && caller.uri ? caller.uri.user : '',
      displayName: caller ? caller.display_name || '' : '',
    });
    if (this._options.autoAnswer) this.answer();
    else this._startRinging();
  }

  _ended(session, e) {
    if (this._session === session) this._stopRinging();
    const payload = { session, originator: e.originator, cause: e.cause };
    // The catalog names both without telling them apart: every end fires both.
    this._emit('Terminated', payload);
    this._emit('CallTerminated', payload);
  }

  _playRemote(connection) {
    // Chromium decodes (and reports the level of) received audio only while it plays.
    if (!this._audio) {
      this._audio = document.createElement('audio');
      this._audio.autoplay = true;
      this._audio.hidden = true;
      this._audio.dataset.softPhoneSdk = 'remote';
      document.body.appendChild(this._audio);
    }
    const audio = this._audio;
    connection.addEventListener('track', (event) => {
      audio.srcObject = event.streams[0] || new MediaStream([event.track]);
      audio.play().catch((error) => this._log.warn('remote audio does not play:', error));
    });
  }

  _startRinging() {
    this._stopRinging();
    if (this._options.ring) {
      const tone = new Audio(this._options.ring);
      tone.loop = true;
      tone.play().catch((error) => this._log.warn('ringtone does not play:', error));
      this._ringing = () => tone.pause();
      return;
    }
    const Context = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!Context) return;
    const context = new Context();
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.frequency.value = 440;
    gain.gain.value = 0.1;
    oscillator.connect(gain).connect(context.destination);
    oscillator.start();
    this._ringing = () => context.close();
  }

  _stopRinging() {
    if (this._ringing) this._ringing();
    this._ringing = null;
  }

  _render(event) {
    // The built-in UI (`el`): the phone's last event, for a page with no UI of its own.
    if (!this._options.el || typeof document === 'undefined') return;
    const el = document.querySelector(this._options.el);
    if (el) el.textContent = `soft phone ${this._options.account}: ${event || 'ready'}`;
  }
}
