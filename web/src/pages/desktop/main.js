// callyard's agent desktop: signs an agent in through the agent SDK (its soft phone for
// login type 3), shows its state and call, sends its requests, opens the screen pop and
// lists its recent calls (callyard's /desktop/ API, with the session's token).

import { AgentSdk } from '../../agent-sdk.js';
import { SoftPhoneSdk } from '../../soft-phone-sdk.js';

const WEBRTC = '3';
const SUCCESS = '0';
const INBOUND = 1; // the socket's callDirection of a call offered to the agent
const DESKTOP_API = '/desktop';
const RECENT_CALLS = 20;
const RECORD_POLLS = 15; // tries to find a finished call's record (written after the call)
const STATS_EVERY_MS = 1000;
const LOGGED_EVENTS = 100;
const SCREEN_POP_WINDOW = 'callyard-screen-pop'; // one tab, reused call after call
const CALLER_PLACEHOLDER = '{caller}';
const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

const STATE_LABELS = {
  Login: 'Not ready',
  Idle: 'Ready',
  Busy: 'Not ready',
  Lock: 'Reserved',
  AgentRinging: 'Ringing',
  AgentAnswer: 'Calling',
  Conversation: 'Talking',
  After: 'Wrap-up',
  Logout: 'Signed out',
};
const IN_CALL = new Set(['Lock', 'AgentRinging', 'AgentAnswer', 'Conversation']);
const CALL_EVENTS = new Set([
  'AgentOriginate', 'AgentRinging', 'AgentAnswer', 'CalledRinging', 'CalledAnswer', 'Conversation',
]);

// The reasons an agent picks (the CTI takes any busyType of up to 32 characters), and
// those callyard sets by itself.
const BUSY_TYPES = [
  ['0', 'Busy'],
  ['1', 'Break'],
  ['2', 'Lunch'],
  ['3', 'Meeting'],
  ['4', 'Training'],
  ['5', 'Paperwork'],
];
const BUSY_LABELS = {
  ...Object.fromEntries(BUSY_TYPES),
  '': 'signed in',
  missed: 'missed a call',
  phone: 'phone offline',
};

// Every event the desktop follows (the SDK emits each under its own name).
const EVENTS = [
  'Login', 'Reconnect', 'Logout', 'Kick', 'Idle', 'Busy', 'Lock', 'MakeCall', 'MakeCallFail',
  'CancelCall', 'AgentOriginate', 'AgentRinging', 'AgentAnswer', 'CalledRinging', 'CalledAnswer',
  'Conversation', 'After', 'SipError', 'Hold', 'HoldFail', 'UnHold', 'UnHoldFail', 'Mute',
  'MuteFail', 'Unmute', 'UnmuteFail', 'TransferCalling', 'TransferCall', 'TransferCallFail',
  'TransferCancel', 'TransferCancelFail', 'ConsultCalling', 'ConsultCall', 'ConsultCallFail',
  'ConsultCancel', 'ConsultCancelFail', 'ConsultTransfer', 'ConsultTransferFail',
  'ConsultedCancel', 'TripartiteTalking', 'TripartiteTalk', 'TripartiteTalkFail', 'Exception',
  'Close',
];
// Which events start, answer or end a consult.
const CONSULT_PHASES = {
  ConsultCalling: 'calling',
  ConsultCall: 'talking',
  ConsultCallFail: '',
  ConsultCancel: '',
  ConsultTransfer: '',
  ConsultedCancel: '',
  TripartiteTalk: 'three-way',
  After: '',
};
// Which events start or end a transfer's call to its target.
const TRANSFER_PHASES = {
  TransferCalling: true,
  TransferCall: false,
  TransferCallFail: false,
  TransferCancel: false,
  After: false,
};
const PHONE_STATUSES = {
  Connected: ['connecting', 'connected, registering'],
  Registered: ['registered', 'registered'],
  UnRegistered: ['unregistered', 'not registered'],
  RegistrationFailed: ['failed', 'registration failed'],
  Disconnected: ['unregistered', 'disconnected'],
};

const $ = (id) => document.getElementById(id);

const desk = {
  sdk: null,
  token: '',
  loginType: '',
  state: 'Logout',
  since: Date.now(),
  busyType: '',
  call: null, // the CTI's data of the call in progress
  held: false,
  muted: false,
  consult: '', // '', calling, talking, three-way
  transferring: false, // a supervised transfer's target is being called
  popupUrl: '',
  popped: new Set(), // calls whose screen pop opened
  wrapUpEnds: 0,
  groups: [],
  phones: new WeakSet(), // soft phones the desktop listens to
  shownCalls: '',
  audioIn: 0, // packets received by the last look at the statistics
};

/** m:ss (h:mm:ss past an hour) of a number of seconds. */
function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/** The screen pop's address: `{caller}` in the group's URL replaced by the caller's number,
 * else `caller=<number>` added to its query. */
export function screenPopUrl(template, caller) {
  if (template.includes(CALLER_PLACEHOLDER)) {
    return template.split(CALLER_PLACEHOLDER).join(encodeURIComponent(caller));
  }
  const url = new URL(template);
  url.searchParams.append('caller', caller);
  return url.href;
}

function showError(where, message) {
  $(where).textContent = message || '';
}

/** Send a request through the SDK; its refusal (or an invalid call) is shown, not thrown. */
async function request(send) {
  showError('desk-error', '');
  try {
    const answer = await send();
    if (answer && String(answer.code) !== SUCCESS) showError('desk-error', answer.msg);
    return answer;
  } catch (error) {
    showError('desk-error', error.message);
    return null;
  }
}

// Signing in and out.

async function signIn(event) {
  event.preventDefault();
  showError('login-error', '');
  const companyShortName = $('company').value.trim();
  const agentNumber = $('agent-number').value.trim();
  const password = $('password').value;
  const loginType = $('login-type').value;
  if (desk.sdk) desk.sdk.break();
  const sdk = new AgentSdk({
    url: window.location.origin,
    companyShortName,
    agentNumber,
    password,
    softPhoneFactory: loginType === WEBRTC ? SoftPhoneSdk : null,
    autoAnswer: $('auto-answer').checked,
  });
  for (const name of EVENTS) sdk.on(name, (message) => onEvent(name, message));
  desk.sdk = sdk;
  $('sign-in').disabled = true;
  try {
    const answer = await sdk.login({ companyShortName, agentNumber, password, loginType });
    if (String(answer.code) !== SUCCESS) {
      showError('login-error', answer.msg);
      sdk.break();
    }
  } catch (error) {
    showError('login-error', error.message);
  } finally {
    $('sign-in').disabled = false;
  }
}

function signedIn(message) {
  const data = message.data || {};
  desk.token = data.token || desk.token;
  desk.loginType = String(data.loginType || $('login-type').value);
  desk.groups = data.groupInfoList || [];
  $('password').value = '';
  $('login-panel').hidden = true;
  $('desk').hidden = false;
  $('who').hidden = false;
  $('agent-label').textContent = `Agent ${message.agentNumber} · extension ${data.sipId || ''}`;
  showPhone(data);
  fillGroups();
  loadAgent();
  loadRecentCalls();
  $('ready').focus();
}

function signedOut(name) {
  desk.token = '';
  desk.call = null;
  desk.consult = '';
  desk.transferring = false;
  desk.state = 'Logout';
  $('desk').hidden = true;
  $('who').hidden = true;
  $('login-panel').hidden = false;
  showError('login-error', name === 'Kick' ? 'You signed in somewhere else.' : '');
  $('company').focus();
}

/** The agent's groups' screen-pop URL (its home group's first) and name. */
async function loadAgent() {
  const reply = await fetchDesktop('/agent');
  if (!reply) return;
  $('agent-label').textContent =
    `${reply.agentName || 'Agent'} · ${reply.agentNumber} · extension ${reply.sipId}`;
  const withPopup = [...reply.groups].sort((a, b) => Number(b.isMaster) - Number(a.isMaster));
  desk.popupUrl = (withPopup.find((group) => group.popupWindowUrl) || {}).popupWindowUrl || '';
}

async function fetchDesktop(path) {
  const token = desk.token;
  if (!token) return null;
  try {
    const reply = await fetch(`${DESKTOP_API}${path}`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
    if (!reply.ok) throw new Error(`${path}: ${reply.status}`);
    return await reply.json();
  } catch (error) {
    showError('desk-error', `Could not load ${path.slice(1)}: ${error.message}`);
    return null;
  }
}

// Events.

function onEvent(name, message) {
  logEvent(name, message);
  if (name === 'Exception') {
    showError(desk.token ? 'desk-error' : 'login-error', message.message);
    return;
  }
  if (name === 'Close') return;
  const data = message.data || {};
  if (name === 'Login' || name === 'Reconnect') signedIn(message);
  if (name === 'Logout' || name === 'Kick') signedOut(name);
  if (name === 'Busy' || name === 'Login' || name === 'Reconnect') {
    desk.busyType = data.currentBusyType ?? '';
  }
  if (name === 'SipError') setPhoneStatus('unregistered', 'phone lost');
  if (CALL_EVENTS.has(name)) onCall(name, data);
  if (name === 'Hold' || name === 'UnHold') desk.held = name === 'Hold';
  if (name === 'Mute' || name === 'Unmute') desk.muted = name === 'Mute';
  if (name in CONSULT_PHASES) desk.consult = CONSULT_PHASES[name];
  if (name in TRANSFER_PHASES) desk.transferring = TRANSFER_PHASES[name];
  if (name === 'After') afterCall(data);
  if (message.nowState) setState(message.nowState);
  render();
}

function logEvent(name, message) {
  const item = document.createElement('li');
  item.dataset.event = name;
  const data = (message && message.data) || {};
  const detail = data.caller ? ` ${data.caller} → ${data.called || ''}` : '';
  const cause = data.cause !== undefined && data.cause !== '' ? ` (${data.cause})` : '';
  const text = name === 'Exception' ? ` ${message.message}` : `${detail}${cause}`;
  item.textContent = `${new Date().toLocaleTimeString()} ${name}${text}`;
  const log = $('event-log');
  log.prepend(item);
  while (log.children.length > LOGGED_EVENTS) log.lastElementChild.remove();
}

function setState(state) {
  if (!(state in STATE_LABELS)) return;
  if (state !== desk.state) desk.since = Date.now();
  desk.state = state;
  if (state !== 'After') desk.wrapUpEnds = 0;
}

function onCall(name, data) {
  desk.call = { ...(desk.call || {}), ...data };
  if (name === 'AgentRinging' || name === 'Conversation') screenPop(desk.call);
}

function afterCall(data) {
  desk.call = null;
  desk.held = false;
  desk.muted = false;
  hideIncoming();
  $('screen-pop').hidden = true;
  const autoIdle = Number(data.agentAutoIdle) === 1;
  desk.wrapUpEnds = autoIdle ? Date.now() + Number(data.agentAutoIdleTime || 0) * 1000 : 0;
  $('wrap-up').dataset.autoIdle = autoIdle ? '1' : '0';
  findRecord(data.occCallId);
}

/** Open the group's screen pop with the caller's number, once per call offered to the agent. */
function screenPop(call) {
  if (!desk.popupUrl || Number(call.callDirection) !== INBOUND || !call.occCallId) return;
  if (desk.popped.has(call.occCallId)) return;
  desk.popped.add(call.occCallId);
  const url = screenPopUrl(desk.popupUrl, call.caller || '');
  // Named: each call's page opens in the same tab instead of piling up tabs.
  const opened = window.open(url, SCREEN_POP_WINDOW);
  if (opened) opened.opener = null;
  else showError('desk-error', 'The screen pop was blocked: allow pop-ups for this site.');
  const link = $('screen-pop');
  link.href = url;
  link.hidden = false;
}

// The soft phone (login type 3).

function showPhone(data) {
  const phone = desk.sdk && desk.sdk.getSoftPhoneInstance();
  if (desk.loginType !== WEBRTC || !phone) {
    const registered = Number(data.registered) === 1;
    const kind = desk.loginType === '2' ? 'mobile' : 'desk phone';
    $('phone-detail').textContent = `Calls ring your ${kind}; the soft phone is not used.`;
    setPhoneStatus(
      registered || desk.loginType === '2' ? 'registered' : 'unregistered',
      desk.loginType === '2' ? 'mobile' : `desk phone ${registered ? 'registered' : 'not registered'}`,
    );
    return;
  }
  $('phone-detail').textContent = `This browser is extension ${data.webrtcSipId}.`;
  phone.setAutoAnswer($('auto-answer').checked);
  if (phone.isRegistered()) setPhoneStatus('registered', 'registered');
  else setPhoneStatus('connecting', 'connecting');
  if (desk.phones.has(phone)) return;
  desk.phones.add(phone);
  for (const [event, [status, text]] of Object.entries(PHONE_STATUSES)) {
    phone.on(event, () => setPhoneStatus(status, text));
  }
  phone.on('Invite', ({ caller }) => showIncoming(caller));
  phone.on('Accepted', () => hideIncoming());
  phone.on('Terminated', () => hideIncoming());
}

function setPhoneStatus(status, text) {
  const element = $('phone-status');
  element.dataset.phone = status;
  element.textContent = `Phone: ${text}`;
}

function softPhone() {
  return desk.sdk && desk.loginType === WEBRTC ? desk.sdk.getSoftPhoneInstance() : null;
}

function showIncoming(caller) {
  $('incoming-number').textContent = caller || 'unknown';
  $('incoming').hidden = false;
  const answering = $('auto-answer').checked;
  $('answer').hidden = answering;
  $('reject').hidden = answering;
  if (!answering) $('answer').focus();
}

function hideIncoming() {
  $('incoming').hidden = true;
}

/** The browser's own statistics of the call's audio, shown while a call is up: packets in
 * (every stream the call received), their sound, packets out, and whether audio still
 * comes in. */
async function showAudioStats() {
  const phone = softPhone();
  const session = phone && phone.getSession();
  const element = $('audio-stats');
  if (!session || !session.connection || session.isEnded()) {
    Object.assign(element.dataset, { packetsReceived: 0, packetsSent: 0, energy: 0 });
    element.textContent = 'No call audio.';
    desk.audioIn = 0;
    return;
  }
  const found = { received: 0, sent: 0, energy: 0 };
  (await session.connection.getStats()).forEach((report) => {
    if (report.kind !== 'audio') return;
    if (report.type === 'inbound-rtp') {
      found.received += report.packetsReceived || 0;
      found.energy += report.totalAudioEnergy || 0;
    } else if (report.type === 'outbound-rtp') {
      found.sent += report.packetsSent || 0;
    }
  });
  const flowing = found.received > desk.audioIn;
  desk.audioIn = found.received;
  Object.assign(element.dataset, {
    packetsReceived: found.received,
    packetsSent: found.sent,
    energy: found.energy,
    flowing: String(flowing),
  });
  const heard = found.energy > 0 ? 'sound' : 'silence';
  const state = flowing ? 'coming in' : 'NOT coming in';
  element.textContent =
    `Audio in: ${state}, ${found.received} packets (${heard}). Audio out: ${found.sent} packets.`;
}

// Rendering.

function render() {
  const state = desk.state;
  const signedIn = Boolean(desk.token);
  const stateElement = $('state');
  stateElement.dataset.state = state;
  $('state-name').textContent = STATE_LABELS[state] || state;
  const reason = state === 'Busy' || state === 'Login' ? BUSY_LABELS[desk.busyType] ?? desk.busyType : '';
  $('state-reason').textContent = reason ? `(${reason})` : '';
  const inCall = IN_CALL.has(state) || Boolean(desk.call);
  const talking = state === 'Conversation';
  $('ready').disabled = !signedIn || inCall || state === 'Idle';
  $('busy').disabled = !signedIn || inCall;
  $('dial').disabled = !signedIn || inCall;
  $('hangup').disabled = !inCall;
  setToggle('hold', talking, desk.held, 'Unhold', 'Hold');
  setToggle('mute', talking, desk.muted, 'Unmute', 'Mute');
  $('transfer').disabled = !talking || Boolean(desk.consult) || desk.transferring;
  $('transfer-cancel').disabled = !desk.transferring;
  $('consult').disabled = !talking || Boolean(desk.consult);
  $('consult-cancel').disabled = !desk.consult;
  $('consult-transfer').disabled = desk.consult !== 'talking' && desk.consult !== 'three-way';
  $('three-way').disabled = desk.consult !== 'talking';
  renderCall();
  tick();
}

function setToggle(id, enabled, pressed, onLabel, offLabel) {
  const button = $(id);
  button.disabled = !enabled;
  button.setAttribute('aria-pressed', String(pressed));
  button.textContent = pressed ? onLabel : offLabel;
}

function renderCall() {
  const call = desk.call;
  const line = $('call-line');
  if (!call) {
    line.textContent = 'No call.';
    return;
  }
  const inbound = Number(call.callDirection) === INBOUND;
  const number = inbound ? call.caller : call.called;
  const consult = desk.consult ? ` · consult ${desk.consult}` : '';
  const held = desk.held ? ' · on hold' : '';
  line.textContent = `${inbound ? 'From' : 'To'} ${number || 'unknown'}${held}${consult}`;
}

/** The clock in the header and the wrap-up countdown, every second. */
function tick() {
  $('state-time').textContent = clock((Date.now() - desk.since) / 1000);
  const wrapUp = $('wrap-up');
  wrapUp.hidden = desk.state !== 'After';
  if (wrapUp.hidden) return;
  wrapUp.textContent =
    wrapUp.dataset.autoIdle === '1'
      ? `Wrap-up ends in ${clock((desk.wrapUpEnds - Date.now()) / 1000)}.`
      : 'Wrap-up: choose Ready or Not ready when you are done.';
}

// Recent calls.

async function loadRecentCalls() {
  const reply = await fetchDesktop(`/calls?limit=${RECENT_CALLS}`);
  if (!reply) return [];
  renderCalls(reply.calls);
  return reply.calls;
}

/** Reload the list until the call just finished is in it (its record is written after). */
async function findRecord(callId, tries = RECORD_POLLS) {
  const calls = await loadRecentCalls();
  if (!callId || tries <= 1 || calls.some((call) => call.callId === callId)) return;
  setTimeout(() => findRecord(callId, tries - 1), 1000);
}

const DIRECTIONS = { inbound: 'In', outbound: 'Out', internal: 'Internal' };

function renderCalls(calls) {
  const shown = calls.map((call) => call.callId).join(' ');
  if (shown === desk.shownCalls) return; // a recording playing is not interrupted
  desk.shownCalls = shown;
  const body = $('recent-calls');
  body.replaceChildren();
  if (!calls.length) {
    const row = body.insertRow();
    const cell = row.insertCell();
    cell.colSpan = 6;
    cell.textContent = 'No calls yet.';
    return;
  }
  for (const call of calls) {
    const row = body.insertRow();
    row.dataset.callId = call.callId;
    const started = new Date(call.startTime);
    const cells = [
      started.toLocaleString(),
      DIRECTIONS[call.direction] || call.direction,
      call.number,
      clock(call.duration),
      call.outcome,
    ];
    for (const text of cells) row.insertCell().textContent = text;
    const recording = row.insertCell();
    if (!call.recordingUrl) {
      recording.textContent = 'none';
      continue;
    }
    const audio = document.createElement('audio');
    audio.controls = true;
    audio.preload = 'metadata';
    audio.src = call.recordingUrl;
    audio.setAttribute('aria-label', `Recording of the call with ${call.number} at ${cells[0]}`);
    recording.append(audio);
  }
}

// The dial pad, the call controls and the status buttons.

function targetOf() {
  const type = $('target-type').value;
  const target = type === '3' ? $('target-group').value : $('target-number').value.trim();
  if (!target) throw new Error('Choose who to transfer to or consult first.');
  return { target, type };
}

function fillGroups() {
  const select = $('target-group');
  select.replaceChildren(
    ...desk.groups.map((group) => new Option(group.name, group.id)),
  );
}

function showTargetField() {
  const group = $('target-type').value === '3';
  for (const id of ['target-group', 'target-group-label']) $(id).hidden = !group;
  for (const id of ['target-number', 'target-number-label']) $(id).hidden = group;
}

function pressKey(key) {
  const phone = softPhone();
  const session = phone && phone.getSession();
  if (desk.state === 'Conversation' && session && session.isEstablished()) {
    request(() => {
      phone.dtmf(key);
      return null;
    });
    logEvent(`DTMF ${key}`, {});
    return;
  }
  $('dial-number').value += key;
}

function buildKeys() {
  const keys = $('keys');
  for (const key of KEYS) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = key;
    button.dataset.key = key;
    button.setAttribute('aria-label', `Key ${key}`);
    button.addEventListener('click', () => pressKey(key));
    keys.append(button);
  }
}

function on(id, handler) {
  $(id).addEventListener('click', handler);
}

function wire() {
  $('login-form').addEventListener('submit', signIn);
  on('logout', () => request(() => desk.sdk.logout()));
  on('ready', () => request(() => desk.sdk.idle()));
  on('busy', () => request(() => desk.sdk.busy($('busy-type').value)));
  on('hangup', () => request(() => desk.sdk.hangup()));
  on('hold', () => request(() => (desk.held ? desk.sdk.unHold() : desk.sdk.hold())));
  on('mute', () => request(() => (desk.muted ? desk.sdk.unMute() : desk.sdk.mute())));
  on('transfer', () =>
    request(() => {
      const { target, type } = targetOf();
      return desk.sdk.transferCall(target, type, Number($('transfer-mode').value));
    }),
  );
  on('consult', () =>
    request(() => {
      const { target, type } = targetOf();
      return desk.sdk.consult(target, type);
    }),
  );
  on('consult-cancel', () => request(() => desk.sdk.consultCancel()));
  on('transfer-cancel', () => request(() => desk.sdk.transferCancel()));
  on('consult-transfer', () => request(() => desk.sdk.consultTransfer()));
  on('three-way', () => request(() => desk.sdk.tripartiteCall()));
  on('dial', () => request(() => desk.sdk.call($('dial-number').value.trim(), 2)));
  on('clear', () => {
    $('dial-number').value = '';
    $('dial-number').focus();
  });
  on('answer', () => request(() => softPhone().answer()));
  on('reject', () => request(() => softPhone().hangup()));
  on('refresh-calls', () => {
    desk.shownCalls = '';
    loadRecentCalls();
  });
  $('auto-answer').addEventListener('change', (event) => {
    const phone = softPhone();
    if (phone) phone.setAutoAnswer(event.target.checked);
  });
  $('target-type').addEventListener('change', showTargetField);
}

function start() {
  const busy = $('busy-type');
  for (const [value, label] of BUSY_TYPES) busy.append(new Option(label, value));
  buildKeys();
  wire();
  showTargetField();
  const given = new URLSearchParams(window.location.search);
  $('company').value = given.get('company') || '';
  $('agent-number').value = given.get('agent') || '';
  render();
  setInterval(tick, 1000);
  setInterval(() => {
    if (desk.token) showAudioStats();
  }, STATS_EVERY_MS);
  ($('company').value ? $('password') : $('company')).focus();
}

start();
