// A stand-in SIP registrar over WebSocket, installed as the page's WebSocket: it answers
// REGISTER with `registerStatus`, records every SIP message the phone sends, and can
// send the phone an INVITE.
window.sipSockets = [];
window.registerStatus = 200;

function header(message, name) {
  const line = message.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line ? line.slice(name.length + 1).trim() : '';
}

class FakeSipSocket {
  constructor(url, protocol) {
    this.url = url;
    this.protocol = protocol;
    this.received = [];
    this.readyState = 0;
    window.sipSockets.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen();
    }, 0);
  }

  send(message) {
    this.received.push(message);
    if (message.startsWith('REGISTER ')) this.reply(message, window.registerStatus);
  }

  reply(request, status) {
    const lines = [
      `SIP/2.0 ${status} ${status === 200 ? 'OK' : 'Forbidden'}`,
      `Via: ${header(request, 'Via')}`,
      `From: ${header(request, 'From')}`,
      `To: ${header(request, 'To')};tag=registrar`,
      `Call-ID: ${header(request, 'Call-ID')}`,
      `CSeq: ${header(request, 'CSeq')}`,
    ];
    if (status === 200) lines.push(`Contact: ${header(request, 'Contact')};expires=300`);
    this.deliver(lines);
  }

  invite(user) {
    const sdp = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
      'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
    this.deliver([
      `INVITE sip:${user}@127.0.0.1 SIP/2.0`,
      'Via: SIP/2.0/WSS 127.0.0.1;branch=z9hG4bKfake1',
      'Max-Forwards: 70',
      'From: "Customer" <sip:628123456789@127.0.0.1>;tag=caller',
      `To: <sip:${user}@127.0.0.1>`,
      'Call-ID: fake-call-1',
      'CSeq: 1 INVITE',
      'Contact: <sip:628123456789@127.0.0.1;transport=ws>',
      'Content-Type: application/sdp',
    ], sdp);
  }

  deliver(lines, body = '') {
    const message = `${lines.join('\r\n')}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    setTimeout(() => this.onmessage({ data: message }), 0);
  }

  close() {
    this.readyState = 3;
    setTimeout(() => this.onclose({ code: 1000, reason: '', wasClean: true }), 0);
  }
}
FakeSipSocket.prototype.OPEN = 1; // JsSIP reads the constant from the socket
window.WebSocket = FakeSipSocket;

window.phoneEvents = [];
const PHONE_EVENTS = ['Connected', 'Disconnected', 'Registered', 'UnRegistered',
  'RegistrationFailed', 'Invite', 'Answer', 'AnswerFailed', 'Accepted', 'Terminated',
  'CallTerminated'];
// A SoftPhoneSdk whose every event is recorded in `phoneEvents`.
window.recordedPhone = (options) => {
  const phone = new SoftPhoneSdk({ account: '10010001', password: 'pw', logLevel: 0, ...options });
  for (const name of PHONE_EVENTS) phone.on(name, () => window.phoneEvents.push(name));
  return phone;
};
