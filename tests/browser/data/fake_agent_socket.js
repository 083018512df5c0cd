// A stand-in for callyard's agent socket, installed as the page's WebSocket: it records
// the requests the SDK sends, answers each with success (a `login` also with its Login
// event), and lets the test push events or drop the connection.
window.sockets = [];
window.answers = {}; // request -> code to answer with ("0" when not listed)
window.silent = []; // requests left unanswered
window.refusing = false; // new connections fail (the server is gone)

class FakeAgentSocket {
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = FakeAgentSocket.CONNECTING;
    window.sockets.push(this);
    if (window.refusing) {
      this.drop();
      return;
    }
    setTimeout(() => {
      this.readyState = FakeAgentSocket.OPEN;
      this.onopen({});
    }, 0);
  }

  send(text) {
    const request = JSON.parse(text);
    this.sent.push(request);
    if (window.silent.includes(request.request)) return;
    const code = window.answers[request.request] || '0';
    this.push({ type: 'response', request: request.request, sequence: request.sequence, code, msg: code === '0' ? 'success' : 'refused' });
    if (request.request === 'login' && code === '0') this.push(loginEvent('Login', request.loginType, request.sequence));
  }

  close(code = 1005) {
    if (this.readyState === FakeAgentSocket.CLOSED) return;
    this.readyState = FakeAgentSocket.CLOSED;
    setTimeout(() => this.onclose({ code, reason: '', wasClean: true }), 0);
  }

  // The test's side.
  push(message, binary) {
    const text = JSON.stringify(message);
    const data = binary ? new TextEncoder().encode(text).buffer : text;
    setTimeout(() => this.onmessage({ data }), 0);
  }

  drop(code = 1006) {
    this.readyState = FakeAgentSocket.CLOSED;
    setTimeout(() => this.onclose({ code, reason: '', wasClean: false }), 0);
  }
}
FakeAgentSocket.CONNECTING = 0;
FakeAgentSocket.OPEN = 1;
FakeAgentSocket.CLOSING = 2;
FakeAgentSocket.CLOSED = 3;
window.WebSocket = FakeAgentSocket;

window.loginData = {}; // fields added to the Login event's data
function loginEvent(name, loginType, sequence) {
  return {
    type: 'event', event: name, sequence, nowState: 'Login', eventTime: Date.now(),
    data: {
      token: 'tok-1', loginType: String(loginType), webrtcSipId: '10010001',
      webrtcSipPassword: 'sip-secret', webrtcDomain: '127.0.0.1:5060', ...window.loginData,
    },
  };
}
window.loginEvent = loginEvent;

function lastSocket() {
  return window.sockets[window.sockets.length - 1];
}
window.lastSocket = lastSocket;

window.seen = [];
// An AgentSdk signed in on the fake socket with `loginType`, recording its events.
async function signedIn(options = {}, loginType = 2) {
  const sdk = new AgentSdk({ url: 'ws://127.0.0.1:9/ccs/api/agent/ws', companyShortName: '1001', agentNumber: '0001', password: 'pw', ...options });
  for (const name of ['Open', 'Close', 'Login', 'Reconnect', 'Logout', 'Exception', 'Idle', 'QueueInfo']) {
    sdk.on(name, (event) => window.seen.push(name === 'Exception' ? `Exception: ${event.message}` : name));
  }
  await until(() => sdk.isConnected());
  sdk.login({ loginType });
  await until(() => sdk.isLogin());
  return sdk;
}
window.signedIn = signedIn;
