// AgentSdk: an agent's desktop on callyard's agent WebSocket, with the API of the
// vendor's agent-sdk 1.1.64 (catalog M9). Each method sends the CTI request callyard
// implements for it (`/ccs/api/agent/ws`); every event the socket sends is emitted under
// its own name. Invalid calls throw synchronously.

import { EventSource, makeLogger } from './emitter.js';

export const AGENT_SDK_VERSION = '1.1.64';
export const SOCKET_PATH = '/ccs/api/agent/ws';

const SUCCESS = '0';
const KICKED = 4001; // the socket's close codes after which the session is gone
const ENDED = 4002;
const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 10000;
const LOG_LEVEL = 1; // warnings and errors
const LOGIN_TYPES = ['1', '2', '3']; // SIP phone, mobile, WebRTC
const WEBRTC = '3';
const CALLED_TYPES = ['1', '2']; // internal (agent), external number
const TARGET_TYPES = ['1', '2', '3', '4']; // agent, number, group, IVR

const DEFAULTS = {
  url: '',
  companyShortName: '',
  agentNumber: '',
  agentPassword: '',
  password: '',
  // The vendor's message-service options: callyard's socket needs none of them.
  connectAccount: '',
  connectPassword: '',
  subscribePath: '',
  host: '',
  el: '',
  pingInterval: 10000,
  timeout: 5000,
  maxReconnect: 10,
  unDownloadLog: false,
  phoneEncryption: true,
  softPhoneFactory: null,
  autoAnswer: false,
  // callyard: options for the soft phone of loginType 3 (`wss`, `wssport`, `stunServers`,
  // `logLevel`, ...) over those of the Login event (`webrtcWss`).
  softPhone: null,
};

// Where the script was loaded from: the default server of a page that gives no `url`.
const LOADED_FROM =
  typeof document !== 'undefined' && document.currentScript ? document.currentScript.src : '';

/** The agent socket's URL of the `url` option (ws(s)://, or http(s):// of the server). */
export function socketAddress(url, base = LOADED_FROM) {
  const given = String(url || '').trim() || base || globalThis.location?.href;
  if (!given) throw new TypeError('AgentSdk: url (the agent WebSocket address) is required');
  const address = new URL(given, globalThis.location?.href);
  if (address.protocol === 'http:') address.protocol = 'ws:';
  else if (address.protocol === 'https:') address.protocol = 'wss:';
  if (address.protocol !== 'ws:' && address.protocol !== 'wss:') {
    throw new TypeError(`AgentSdk: url ${given} is not a ws://, wss:// or http(s):// address`);
  }
  if (!String(url || '').trim() || address.pathname === '/') address.pathname = SOCKET_PATH;
  address.search = '';
  address.hash = '';
  return address.href;
}

/** A request's failure as the SDK reports it: its `Exception` event's data. */
function exceptionOf(response) {
  return {
    version: AGENT_SDK_VERSION,
    message: `${response.request}: ${response.msg}`,
    request: response.request,
    code: response.code,
    sequence: response.sequence,
  };
}

/** An answer of the SDK's own for a request the server never answered. */
function failure(request, msg, sequence = 0) {
  return { type: 'response', request, sequence, code: '-1', msg };
}

/** A call the SDK refuses before sending anything (thrown synchronously). */
export class InvalidCall extends Error {
  constructor(message) {
    super(message);
    this.name = 'AgentSdkError';
  }
}

function text(value) {
  return value === undefined || value === null ? '' : String(value).trim();
}

export class AgentSdk extends EventSource {
  constructor(options = {}) {
    super();
    this._socket = null;
    this._pending = new Map(); // sequence -> {resolve, timer}
    this._waiting = []; // messages sent while the socket opens
    this._lastSequence = 0;
    this._softPhone = null;
    this.init(options);
  }

  /** Take (new) options and connect; an open connection is closed first. */
  init(options = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('AgentSdk: options must be an object');
    }
    const merged = { ...DEFAULTS, ...(this._options || {}), ...options };
    for (const name of ['pingInterval', 'timeout', 'maxReconnect']) {
      const value = Number(merged[name]);
      if (!Number.isFinite(value) || value < 0) {
        throw new TypeError(`AgentSdk: ${name} must be a number >= 0`);
      }
      merged[name] = value;
    }
    if (merged.softPhoneFactory !== null && typeof merged.softPhoneFactory !== 'function') {
      throw new TypeError('AgentSdk: softPhoneFactory must be a constructor (SoftPhoneSdk)');
    }
    this._address = socketAddress(merged.url);
    if (this._socket) this._close();
    this._options = merged;
    this._log = makeLogger('agent-sdk', LOG_LEVEL);
    this._emitter.log = this._log;
    this._token = '';
    this._loginData = null;
    this._loginType = null;
    this._userdata = '';
    this._attempts = 0;
    this.connect();
  }

  getVersion() {
    return AGENT_SDK_VERSION;
  }

  /** The login type of the session (1 SIP phone, 2 mobile, 3 WebRTC), or null. */
  getLoginType() {
    return this._loginType === null ? null : Number(this._loginType);
  }

  /** Open the socket (the constructor does); with the session's token once signed in. */
  connect() {
    if (this._socket) return;
    this._purposefulClose = false;
    const url = this._token
      ? `${this._address}?token=${encodeURIComponent(this._token)}`
      : this._address;
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer'; // callyard sends its JSON in binary frames
    socket.onopen = () => this._opened(socket);
    socket.onmessage = (message) => this._received(message.data);
    socket.onerror = (error) => this._emit('Error', error);
    socket.onclose = (close) => this._closed(socket, close);
    this._socket = socket;
  }

  /** Close the connection (the session stays signed in for its grace period). */
  break() {
    this._close();
  }

  isConnected() {
    return Boolean(this._socket && this._socket.readyState === WebSocket.OPEN);
  }

  isLogin() {
    return Boolean(this._token);
  }

  /** Sign in: `loginType` 1 SIP phone, 2 mobile, 3 WebRTC (then the soft phone registers). */
  login(params = {}) {
    const o = this._options;
    const agentNumber = text(params.agentNumber ?? o.agentNumber);
    const password = text(params.password ?? params.agentPassword ?? (o.agentPassword || o.password));
    const companyShortName = text(params.companyShortName ?? o.companyShortName);
    const loginType = text(params.loginType);
    this._check('login', 'companyShortName', companyShortName);
    this._check('login', 'agentNumber', agentNumber);
    this._check('login', 'password', password);
    this._oneOf('login', 'loginType', loginType, LOGIN_TYPES);
    if (!this._socket) this.connect();
    o.agentNumber = agentNumber;
    o.companyShortName = companyShortName;
    this._requestedLoginType = loginType;
    return this._send('login', {
      companyId: companyShortName,
      agentNumber,
      password,
      loginType,
    });
  }



  busy(busyType) {
    const fields = text(busyType) ? { busyType: text(busyType) } : {};
    return this._ask('busy', fields);
  }

  /** Call `called` (calledType 1 an agent, 2 an external number) showing `caller`. */
  call(called, calledType = 2, caller) {
    this._check('call', 'called', text(called));
    this._oneOf('call', 'calledType', text(calledType), CALLED_TYPES);
    const fields = { called: text(called), callAgentType: 'default', userData: this._userdata };
    if (text(caller)) fields.caller = text(caller);
    return this._ask('makeCall', fields);
  }

  /** Hang up: the soft phone's call, else cancel the call being placed. */
  hangup() {
    const session = this._softPhone && this._softPhone.getSession && this._softPhone.getSession();
    if (session && !session.isEnded()) {
      this._softPhone.hangup();
      return Promise.resolve({ type: 'response', request: 'hangup', sequence: 0, code: SUCCESS, msg: 'success' });
    }
    return this._ask('cancelCall');
  }




  /** Transfer the call: transferType 1 agent number, 2 phone, 3 group id, 4 IVR id. */
  transferCall(target, transferType, transferMode = 0) {
    this._check('transferCall', 'target', text(target));
    this._oneOf('transferCall', 'transferType', text(transferType), TARGET_TYPES);
    this._oneOf('transferCall', 'transferMode', text(transferMode), ['0', '1']);
    return this._ask('transferCall', {
      transferId: text(target),
      transferType: text(transferType),
      transferMode: Number(transferMode),
    });
  }

  /** Consult `target` (consultType as transferType; the vendor documents only the target). */
  consult(target, consultType = 1) {
    this._check('consult', 'target', text(target));
    this._oneOf('consult', 'consultType', text(consultType), TARGET_TYPES);
    return this._ask('consultCall', { consultId: text(target), consultType: text(consultType) });
  }




  /** The user data sent with the agent's calls (`userData` of makeCall). */
  setUserdata(userdata) {
    this._userdata = text(userdata);
  }

  getSoftPhoneInstance() {
    return this._softPhone;
  }

  // Supervisors.

  surveillance(filter) {
    return this._ask('surveillance', filter ? { filter: this._filter(filter) } : {});
  }

  /** A Surveillance event now and every `interval` ms until surveillanceEnd(). */
  surveillanceStart(filter, interval = 2000) {
    const every = Number(interval);
    if (!Number.isFinite(every) || every < 100) {
      this._fail('surveillanceStart', 'interval must be a number of ms >= 100');
    }
    this.surveillanceEnd();
    const first = this.surveillance(filter);
    this._watching = setInterval(() => {
      if (this.isLogin()) this.surveillance(filter);
    }, every);
    return first;
  }

  surveillanceEnd() {
    clearInterval(this._watching);
    this._watching = null;
  }

  /** The agent's state, as a Surveillance event listing that agent. */
  getStateByAgentId(agentNumber) {
    this._check('getStateByAgentId', 'agentNumber', text(agentNumber));
    return this._ask('surveillance', { filter: { agentNumber: text(agentNumber) } });
  }

  /** The idle agents of a group (every group without one), as an IdleAgent event. */
  getIdleAgentByGroupId(groupId) {
    return this._ask('idleAgent', text(groupId) ? { groupId: text(groupId) } : {});
  }


  /** callyard: the waiting callers of the agent's groups, as QueueInfo events. */
  getQueueInfo(groupId) {
    return this._ask('queueInfo', text(groupId) ? { groupId: text(groupId) } : {});
  }

  getAutoGroups() {
    this._fail(
      'getAutoGroups',
      'callyard has no automatic (predictive) groups request on the agent socket',
    );
  }

  // The socket.

  _onAgent(method, target) {
    this._check(method, 'target', text(target));
    return this._ask(method, { beAgentNumber: text(target) });
  }

  _filter(filter) {
    if (typeof filter !== 'object') this._fail('surveillance', 'filter must be an object');
    const fields = {};
    for (const name of ['groupId', 'agentNumber', 'agentName', 'agentState', 'callDirection']) {
      if (text(filter[name])) fields[name] = text(filter[name]);
    }
    return fields;
  }

  /** A request of a signed-in agent. */
  _ask(request, fields = {}) {
    if (!this.isLogin()) this._fail(request, 'not logged in: call login() first');
    if (!this._socket && !this._retry) this._fail(request, 'not connected: call connect() first');
    return this._send(request, fields);
  }

  _fail(method, reason) {
    throw new InvalidCall(`AgentSdk.${method}: ${reason}`);
  }

  _check(method, name, value) {
    if (!value) this._fail(method, `${name} is required`);
  }

  _oneOf(method, name, value, allowed) {
    if (!allowed.includes(value)) {
      this._fail(method, `${name} must be one of ${allowed.join(', ')} (got ${value || 'nothing'})`);
    }
  }

  _nextSequence() {
    this._lastSequence = Math.max(Date.now(), this._lastSequence + 1);
    return this._lastSequence;
  }

  /** Send a request; resolves with its answer (`code` "0" is success) or a timeout's. */
  _send(request, fields) {
    const sequence = this._nextSequence();
    const message = JSON.stringify({ request, sequence, ...fields });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this._pending.delete(sequence);
        const timedOut = failure(request, 'no answer (timeout)', sequence);
        this._answered(timedOut);
        resolve(timedOut);
        if (request === 'heartbeat' && this._socket) this._socket.close(); // a dead link: reconnect
      }, this._options.timeout || 5000);
      this._pending.set(sequence, { resolve, timer });
      if (this.isConnected()) this._socket.send(message);
      else this._waiting.push(message);
    });
  }

  _opened(socket) {
    if (socket !== this._socket) return;
    // Signed in, the session's Reconnect event (not the open socket) ends the retries.
    if (!this._token) this._attempts = 0;
    for (const message of this._waiting.splice(0)) socket.send(message);
    this._emit('Open', { url: this._address });
  }

  _received(data) {
    let message;
    try {
      message = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
    } catch (error) {
      this._log.warn('not a JSON message:', error);
      return;
    }
    if (message.type === 'response') {
      const pending = this._pending.get(message.sequence);
      if (pending) {
        clearTimeout(pending.timer);
        this._pending.delete(message.sequence);
        pending.resolve(message);
      }
      this._answered(message);
      return;
    }
    if (message.type === 'event' && message.event) this._event(message);
  }

  _answered(response) {
    if (String(response.code) !== SUCCESS) this._emit('Exception', exceptionOf(response));
  }

  _event(event) {
    const name = event.event;
    if (name === 'Login' || name === 'Reconnect') {
      const data = event.data || {};
      this._token = data.token || this._token;
      this._attempts = 0;
      this._loginData = data;
      this._loginType = text(data.loginType) || this._requestedLoginType || null;
      this._startHeartbeat();
      if (this._loginType === WEBRTC && this._options.softPhoneFactory) this._startSoftPhone(data);
    } else if (name === 'Logout' || name === 'Kick') {
      this._signedOut();
    }
    this._emit(name, event);
  }

  _signedOut() {
    this._token = '';
    this._loginData = null;
    this._loginType = null;
    this._stopHeartbeat();
    this.surveillanceEnd();
    if (this._softPhone) this._softPhone.stop();
    this._softPhone = null;
  }

  _startHeartbeat() {
    this._stopHeartbeat();
    if (!this._options.pingInterval) return;
    this._heartbeat = setInterval(() => {
      if (this.isConnected() && this.isLogin()) this._send('heartbeat', {});
    }, this._options.pingInterval);
  }

  _stopHeartbeat() {
    clearInterval(this._heartbeat);
    this._heartbeat = null;
  }

  /** The WebRTC phone of loginType 3, made with the factory and registered. */
  _startSoftPhone(data) {
    const own = this._options.softPhone || {};
    const wss = own.wss || data.webrtcWss;
    if (!wss) {
      this._emit('Exception', {
        version: AGENT_SDK_VERSION,
        message: 'soft phone: the SIP WebSocket address is unknown (give the softPhone.wss option)',
      });
      return;
    }
    const options = {
      ...own,
      wss,
      wssport: own.wssport ?? data.webrtcWssPort ?? '',
      account: data.webrtcSipId,
      password: data.webrtcSipPassword,
      domain: own.domain || text(data.webrtcDomain).replace(/:\d+$/, ''),
      autoAnswer: this._options.autoAnswer,
    };
    // A soft phone that lost its connection with the agent's socket finds its way back by
    // itself, its call (whose media went on) kept: made anew, it would end the call.
    if (this._softPhone) return;
    this._softPhone = new this._options.softPhoneFactory(options);
    try {
      this._softPhone.register();
    } catch (error) {
      this._emit('Exception', { version: AGENT_SDK_VERSION, message: `soft phone: ${error.message}` });
    }
  }

  _close() {
    this._purposefulClose = true;
    clearTimeout(this._retry);
    this._retry = null;
    this._stopHeartbeat();
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.close(1000);
      this._emit('Close', { code: 1000, reason: 'closed by the page', wasClean: true });
    }
  }

  _closed(socket, close) {
    if (socket !== this._socket) return; // closed by break(): already reported
    this._socket = null;
    this._stopHeartbeat();
    this._emit('Close', { code: close.code, reason: close.reason, wasClean: close.wasClean });
    if (close.code === KICKED || close.code === ENDED) {
      this._signedOut();
      return;
    }
    if (this._purposefulClose || this._attempts >= this._options.maxReconnect) return;
    this._attempts += 1;
    const delay = Math.min(FIRST_RETRY_MS * 2 ** (this._attempts - 1), LAST_RETRY_MS);
    this._retry = setTimeout(() => {
      this._retry = null;
      this.connect();
    }, delay);
  }

  _emit(event, payload) {
    this._emitter.emit(event, payload);
    this._render(event);
  }

  _render(event) {
    // The built-in UI (`el`): the agent and its last event, for a page with no UI of its own.
    if (!this._options || !this._options.el || typeof document === 'undefined') return;
    const el = document.querySelector(this._options.el);
    if (el) el.textContent = `agent ${this._options.agentNumber}: ${event}`;
  }
}

// Requests without parameters: the SDK's method and the request it sends (callyard adds
// hold, unHold, consultCancel and transferCancel, which the vendor's SDK leaves out).
const PLAIN_REQUESTS = {
  logout: 'logout',
  idle: 'idle',
  mute: 'mute',
  unMute: 'unmute',
  hold: 'hold',
  unHold: 'unHold',
  consultCancel: 'consultCancel',
  transferCancel: 'transferCancel',
  consultTransfer: 'consultTransfer',
  tripartiteCall: 'tripartiteTalk',
  getGroups: 'getGroups',
};
for (const [method, request] of Object.entries(PLAIN_REQUESTS)) {
  AgentSdk.prototype[method] = function plainRequest() {
    return this._ask(request);
  };
}

// A supervisor's requests on another agent (`beAgentNumber`; callyard adds whisper).
const ON_AGENT = [
  'forceIdle', 'forceBusy', 'forceLogout', 'listen', 'whisper', 'forceBreak', 'forceInsert',
  'intercept',
];
for (const request of ON_AGENT) {
  AgentSdk.prototype[request] = function onAgent(target) {
    return this._onAgent(request, target);
  };
}

// With the built-in UI (`el`) the vendor's SDK reports invalid calls as `Exception` events
// instead of throwing them.
const REQUESTS = [
  'login', 'logout', 'idle', 'busy', 'call', 'hangup', 'mute', 'unMute', 'hold', 'unHold',
  'transferCall', 'transferCancel', 'consult', 'consultCancel', 'consultTransfer',
  'tripartiteCall', 'surveillance', 'surveillanceStart', 'forceIdle', 'forceBusy',
  'forceLogout', 'listen', 'whisper', 'forceBreak', 'forceInsert', 'intercept', 'getStateByAgentId', 'getIdleAgentByGroupId',
  'getGroups', 'getQueueInfo', 'getAutoGroups',
];
for (const name of REQUESTS) {
  const method = AgentSdk.prototype[name];
  AgentSdk.prototype[name] = function reportingInvalidCalls(...args) {
    try {
      return method.apply(this, args);
    } catch (error) {
      if (!(error instanceof InvalidCall) || !this._options.el) throw error;
      this._emit('Exception', { version: AGENT_SDK_VERSION, message: error.message });
      return Promise.resolve(failure(name, error.message));
    }
  };
}
