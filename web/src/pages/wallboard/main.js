// callyard's supervisor wallboard: a supervisor signs in through the agent SDK (its own
// soft phone in the page with login type 3), then the wallboard feed
// (/supervisor/api/wallboard/ws) keeps the board up to date; listen, whisper, barge,
// intercept and the force requests go through the supervisor's own CTI session.

import { AgentSdk } from '../../agent-sdk.js';
import { SoftPhoneSdk } from '../../soft-phone-sdk.js';

const FEED_PATH = '/supervisor/api/wallboard/ws';
const SESSION_ENDED = 4002; // the feed's close codes after which reconnecting is useless
const REFUSED = [4401, 4403];
const RETRY_MS = 2000;
const SVG = 'http://www.w3.org/2000/svg';

const STATES = {
  signed_in: 'Signed in',
  idle: 'Ready',
  busy: 'Not ready',
  reserved: 'Reserved',
  ringing: 'Ringing',
  dialing: 'Dialing',
  talking: 'Talking',
  wrap_up: 'Wrap-up',
};
const CALL_STATES = { queued: 'Queued', ringing: 'Ringing', answered: 'Answered', talking: 'Talking' };
// Not-ready reasons callyard sets itself; '0' (the SDK's default) and '' say nothing.
const BUSY_REASONS = { missed: 'missed a call', phone: 'phone lost', 0: '', '': '' };

// What a supervisor can do to an agent: [action, label, needs the agent in a call].
const ACTIONS = [
  ['listen', 'Listen', true],
  ['whisper', 'Whisper', true],
  ['forceInsert', 'Barge', true],
  ['intercept', 'Intercept', true],
  ['forceIdle', 'Force ready', false],
  ['forceBusy', 'Force not ready', false],
  ['forceLogout', 'Force sign-out', false],
];
const IN_CALL = new Set(['talking']);
// The outcomes of those requests, as the supervisor's own session reports them.
const OUTCOMES = [
  'Listening', 'Listen', 'ListenFail', 'Whispering', 'Whisper', 'WhisperFail',
  'ForceInserting', 'ForceInsert', 'ForceInsertFail',
  'Intercepting', 'Intercept', 'InterceptFail',
];

const $ = (id) => document.getElementById(id);

const page = {
  sdk: null,
  feed: null,
  token: '',
  company: '',
  clockOffset: 0, // server time minus the page's
  board: { agents: [], queues: [], calls: [], tasks: [], chart: [] },
  bucketSeconds: 300,
  messages: [], // what the feed sent, with when it arrived (for anyone looking)
};
window.wallboard = page;

function element(tag, attributes = {}, ...children) {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'text') made.textContent = value;
    else made.setAttribute(name, value);
  }
  made.append(...children);
  return made;
}

function serverNow() {
  return Date.now() + page.clockOffset;
}

/** A duration as m:ss, or h:mm:ss from an hour on. */
function duration(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function say(message) {
  $('outcome').textContent = message;
}

// Signing in and out.

function signIn(event) {
  event.preventDefault();
  const company = $('company').value.trim();
  const agentNumber = $('agent').value.trim();
  const password = $('password').value;
  const loginType = Number($('phone').value);
  $('login-error').textContent = '';
  if (page.sdk) page.sdk.break();
  const sdk = new AgentSdk({
    url: location.origin,
    companyShortName: company,
    agentNumber,
    softPhoneFactory: SoftPhoneSdk,
    autoAnswer: true,
  });
  page.sdk = sdk;
  page.company = company;
  page.agentNumber = agentNumber;
  sdk.on('Login', (e) => started(e));
  sdk.on('Reconnect', (e) => started(e));
  sdk.on('Logout', () => ended('Signed out'));
  sdk.on('Kick', () => ended('Signed in elsewhere'));
  sdk.on('Exception', (e) => {
    const message = e.data ? e.data.message : e.message;
    if (!page.token) $('login-error').textContent = message;
    else say(message);
  });
  for (const name of ['Idle', 'Busy', 'AgentRinging', 'Conversation', 'After']) {
    sdk.on(name, (e) => showMe(e.nowState));
  }
  for (const name of OUTCOMES) {
    sdk.on(name, (e) => {
      const cause = e.data && e.data.cause ? `: ${e.data.cause}` : '';
      say(`${name}${cause}`);
    });
  }
  sdk.login({ agentNumber, password, companyShortName: company, loginType });
}

function started(event) {
  const data = event.data || {};
  page.token = data.token;
  $('login').hidden = true;
  $('board').hidden = false;
  $('logout').hidden = false;
  showMe(event.nowState);
  const phone = page.sdk.getSoftPhoneInstance();
  if (phone) {
    phone.on('Registered', () => showMe());
    phone.on('Unregistered', () => showMe());
    phone.on('RegistrationFailed', () => showMe());
  }
  openFeed();
  $('board').focus();
}

function ended(why) {
  page.token = '';
  if (page.feed) page.feed.close();
  page.feed = null;
  $('login').hidden = false;
  $('board').hidden = true;
  $('logout').hidden = true;
  $('me').textContent = why;
}

function showMe(state) {
  if (state) page.myState = state;
  const phone = page.sdk && page.sdk.getSoftPhoneInstance();
  const phoneText = phone ? ` · soft phone ${phone.isRegistered() ? 'registered' : 'not registered'}` : '';
  $('me').textContent = `Supervisor ${page.agentNumber || ''} · ${page.myState || ''}${phoneText}`;
}

// The feed.

function openFeed() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = new URLSearchParams({ token: page.token, companyId: page.company });
  const feed = new WebSocket(`${scheme}//${location.host}${FEED_PATH}?${query}`);
  page.feed = feed;
  feed.onmessage = (event) => received(JSON.parse(event.data));
  feed.onclose = (event) => {
    if (page.feed !== feed) return;
    page.feed = null;
    if (event.code === SESSION_ENDED || REFUSED.includes(event.code) || !page.token) return;
    setTimeout(() => page.token && !page.feed && openFeed(), RETRY_MS);
  };
}

function received(message) {
  page.messages.push({ type: message.type, at: Date.now(), sections: Object.keys(message) });
  if (message.type === 'error') {
    say(`The wallboard refused: ${message.error}`);
    return;
  }
  page.clockOffset = message.server_ms - Date.now();
  if (message.chart_bucket_seconds) page.bucketSeconds = message.chart_bucket_seconds;
  const renderers = { agents: drawAgents, queues: drawQueues, calls: drawCalls, tasks: drawTasks, chart: drawChart };
  for (const [name, draw] of Object.entries(renderers)) {
    if (message[name]) {
      page.board[name] = message[name];
      draw(message[name]);
    }
  }
  tick();
}

// Agents: tiles kept by number, so a focused button stays focused across updates.

function drawAgents(agents) {
  const list = $('agents');
  const kept = new Map([...list.children].map((tile) => [tile.dataset.agent, tile]));
  const shown = agents.filter((a) => a.number !== page.agentNumber);
  shown.forEach((agent, index) => {
    const tile = kept.get(agent.number) || newTile(agent);
    kept.delete(agent.number);
    fillTile(tile, agent);
    if (list.children[index] !== tile) list.insertBefore(tile, list.children[index] || null);
  });
  for (const gone of kept.values()) gone.remove();
  $('agent-count').textContent = `(${shown.length} signed in, ${shown.filter((a) => a.status === 'idle').length} ready)`;
}

function newTile(agent) {
  const tile = element('li', { class: 'tile', 'data-agent': agent.number });
  const head = element('div', { class: 'tile-head' },
    element('span', { class: 'name' }), element('span', { class: 'number' }));
  const state = element('div', { class: 'state' },
    element('span', { class: 'label' }), element('span', { class: 'since', 'data-since': '0' }));
  const detail = element('div', { class: 'detail' });
  const buttons = element('div', { class: 'actions', role: 'group' });
  for (const [action, label] of ACTIONS) {
    const button = element('button', { type: 'button', 'data-action': action, text: label });
    button.addEventListener('click', () => act(action, label, tile.dataset.agent));
    buttons.append(button);
  }
  tile.append(head, state, detail, buttons);
  return tile;
}

function fillTile(tile, agent) {
  tile.dataset.status = agent.status;
  tile.querySelector('.name').textContent = agent.name || agent.number;
  tile.querySelector('.number').textContent = agent.number;
  const reason = agent.status === 'busy' ? BUSY_REASONS[agent.busy_type] ?? `reason ${agent.busy_type}` : '';
  tile.querySelector('.label').textContent = STATES[agent.status] + (reason ? ` (${reason})` : '');
  tile.querySelector('.since').dataset.since = agent.since_ms;
  const call = agent.peer ? `${agent.direction === 'inbound' ? 'from' : 'to'} ${agent.peer}` : '';
  const phone = agent.registered || agent.login_type === 'mobile' ? '' : 'phone not registered';
  tile.querySelector('.detail').textContent = [agent.groups.join(', '), call, phone].filter(Boolean).join(' · ');
  tile.querySelector('.actions').setAttribute('aria-label', `Actions for ${agent.name || agent.number}`);
  for (const [action, label, needsCall] of ACTIONS) {
    const button = tile.querySelector(`[data-action="${action}"]`);
    button.disabled = needsCall && !IN_CALL.has(agent.status);
    button.setAttribute('aria-label', `${label} ${agent.name || agent.number}`);
  }
}

async function act(action, label, number) {
  if (!page.sdk) return;
  say(`${label} ${number}…`);
  try {
    const answer = await page.sdk[action](number);
    say(answer.code === '0' ? `${label} ${number}: asked` : `${label} ${number}: ${answer.msg}`);
  } catch (error) {
    say(`${label} ${number}: ${error.message}`);
  }
}

// Queues, calls, tasks: small enough to draw anew.

function drawQueues(queues) {
  const list = $('queues');
  list.replaceChildren(...queues.map((queue) => {
    const card = element('li', { class: 'queue', 'data-queue': queue.name, 'data-waiting': String(queue.waiting) });
    card.classList.toggle('has-callers', queue.waiting > 0);
    const longest = element('span', { class: 'since' });
    if (queue.oldest_ms) longest.dataset.since = queue.oldest_ms;
    else longest.textContent = '–';
    card.append(
      element('h3', { text: queue.name }),
      element('p', { class: 'big' }, element('span', { class: 'waiting', text: String(queue.waiting) }), ' waiting'),
      element('p', {}, 'Longest wait ', longest),
      element('p', { class: 'muted', text: `${queue.agents_ready} ready of ${queue.agents_signed_in} signed in` }),
    );
    return card;
  }));
  if (!queues.length) list.replaceChildren(element('li', { class: 'muted', text: 'No queues' }));
}

function drawCalls(calls) {
  $('call-count').textContent = `(${calls.length})`;
  $('calls').replaceChildren(...calls.map((call) => {
    const since = element('span', { class: 'since', 'data-since': String(call.answered_ms || call.started_ms) });
    const agent = call.agent_number ? `${call.agent_name || call.agent_number} (${call.agent_number})` : call.extension || '–';
    return element('tr', { 'data-call': call.call_id, 'data-state': call.state },
      element('td', {}, element('span', { class: `pill ${call.state}`, text: CALL_STATES[call.state] || call.state })),
      element('td', { text: call.direction }),
      element('td', { text: call.caller || '–' }),
      element('td', { text: call.called || '–' }),
      element('td', { text: agent }),
      element('td', {}, since));
  }));
}

function percent(value) {
  return `${Number(value).toFixed(1)}%`;
}

function drawTasks(tasks) {
  const rows = tasks.map((task) => element('tr', { 'data-task': task.taskid },
    element('td', { text: task.name || task.taskid }),
    element('td', { text: task.group || '–' }),
    element('td', { text: task.state }),
    element('td', { text: String(task.dialed) }),
    element('td', { text: String(task.dials_per_minute) }),
    element('td', { text: percent(task.answer_rate) }),
    element('td', { class: task.abandon_rate > 3 ? 'warn' : '', text: percent(task.abandon_rate) }),
    element('td', { text: `${task.dialed} of ${task.total}` })));
  $('tasks').replaceChildren(...(rows.length ? rows : [element('tr', {}, element('td', { colspan: '8', class: 'muted', text: 'No tasks running' }))]));
}

// The chart: bars of calls per bucket, a line of the abandon rate, drawn as SVG.

function svg(tag, attributes = {}, text = '') {
  const made = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, String(value));
  if (text) made.textContent = text;
  return made;
}

function drawChart(buckets) {
  const chart = $('chart');
  const width = 360, height = 160, left = 28, right = 34, top = 10, bottom = 22;
  const plotW = width - left - right, plotH = height - top - bottom;
  const most = Math.max(1, ...buckets.map((b) => b.calls));
  const step = plotW / Math.max(1, buckets.length);
  const parts = [
    svg('line', { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, class: 'axis' }),
    svg('text', { x: left - 4, y: top + 8, class: 'tick', 'text-anchor': 'end' }, String(most)),
    svg('text', { x: left - 4, y: top + plotH, class: 'tick', 'text-anchor': 'end' }, '0'),
    svg('text', { x: left + plotW + 4, y: top + 8, class: 'tick rate' }, '100%'),
    svg('text', { x: left + plotW + 4, y: top + plotH, class: 'tick rate' }, '0%'),
  ];
  const points = [];
  buckets.forEach((bucket, i) => {
    const h = (bucket.calls / most) * plotH;
    const x = left + i * step;
    const rate = bucket.offered ? bucket.abandoned / bucket.offered : 0;
    const bar = svg('rect', { x: x + 2, y: top + plotH - h, width: Math.max(1, step - 4), height: h, class: 'bar' });
    bar.append(svg('title', {}, `${clockTime(bucket.start_ms)}: ${bucket.calls} calls, ${bucket.abandoned} of ${bucket.offered} abandoned`));
    parts.push(bar);
    points.push(`${x + step / 2},${top + plotH - rate * plotH}`);
    if (i % 3 === 0) parts.push(svg('text', { x: x + step / 2, y: height - 6, class: 'tick', 'text-anchor': 'middle' }, clockTime(bucket.start_ms)));
  });
  parts.push(svg('polyline', { points: points.join(' '), class: 'rate-line' }));
  chart.replaceChildren(...parts);
  const calls = buckets.reduce((n, b) => n + b.calls, 0);
  const offered = buckets.reduce((n, b) => n + b.offered, 0);
  const abandoned = buckets.reduce((n, b) => n + b.abandoned, 0);
  $('chart-caption').textContent = `${calls} calls in the last hour, per ${page.bucketSeconds / 60} minutes (bars); abandon rate ${offered ? percent((100 * abandoned) / offered) : '0.0%'} (line)`;
}

// Clocks tick in the page, from the times the feed sent.

function tick() {
  const now = serverNow();
  for (const clock of document.querySelectorAll('[data-since]')) {
    const since = Number(clock.dataset.since);
    if (since) clock.textContent = duration(now - since);
  }
}

$('login').addEventListener('submit', signIn);
$('logout').addEventListener('click', () => page.sdk && page.sdk.logout());
setInterval(tick, 1000);
const given = new URLSearchParams(location.search);
$('company').value = given.get('company') || '';
$('agent').value = given.get('agent') || '';
const legend = Object.entries(STATES).map(([status, label]) => element('span', { class: 'key', 'data-status': status, text: label }));
$('legend').replaceChildren(...legend);
