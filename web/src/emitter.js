// The event registry both SDKs share: on() returns an id that off() accepts as well as
// the listener itself; a listener that throws is logged and does not stop the others.

let lastId = 0;

/** A fresh listener id, unique in the page (an RFC 4122 v4 UUID where the browser has one). */
export function listenerId() {
  if (globalThis.crypto && typeof globalThis.crypto.randomUUID === 'function') {
    return globalThis.crypto.randomUUID();
  }
  lastId += 1;
  return `listener-${Date.now()}-${lastId}`;
}

export class Emitter {
  constructor(log = console) {
    this._listeners = new Map(); // event name -> [{id, fn, once}]
    this.log = log;
  }

  /** Call `fn(payload)` on each `event`; returns the listener's id. */
  on(event, fn) {
    return this._add(event, fn, false);
  }

  /** Call `fn(payload)` on the next `event` only; returns the listener's id. */
  once(event, fn) {
    return this._add(event, fn, true);
  }

  /** Remove a listener by id or function; without one, every listener of `event`. */
  off(event, idOrFn) {
    if (idOrFn === undefined) {
      this._listeners.delete(event);
      return;
    }
    const kept = (this._listeners.get(event) || []).filter(
      (l) => l.id !== idOrFn && l.fn !== idOrFn,
    );
    this._listeners.set(event, kept);
  }

  /** Deliver `payload` to the listeners of `event`. */
  emit(event, payload) {
    const listeners = this._listeners.get(event) || [];
    this._listeners.set(
      event,
      listeners.filter((l) => !l.once),
    );
    for (const listener of listeners) {
      try {
        listener.fn(payload);
      } catch (error) {
        this.log.error(`listener of ${event} failed:`, error);
      }
    }
  }

  _add(event, fn, once) {
    if (typeof event !== 'string' || !event) throw new TypeError('event must be a name');
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    const id = listenerId();
    const listeners = this._listeners.get(event) || [];
    listeners.push({ id, fn, once });
    this._listeners.set(event, listeners);
    return id;
  }
}

/** What both SDKs expose of their listeners: on, once and off. */
export class EventSource {
  constructor() {
    this._emitter = new Emitter();
  }

  on(event, fn) {
    return this._emitter.on(event, fn);
  }

  once(event, fn) {
    return this._emitter.once(event, fn);
  }

  off(event, idOrFn) {
    this._emitter.off(event, idOrFn);
  }
}

// logLevel: 0 error, 1 warn, 2 log, 3 debug (the soft phone's documented levels).
const LEVELS = ['error', 'warn', 'log', 'debug'];

/** A console logger that prints what is at or below `level`, prefixed with `name`. */
export function makeLogger(name, level) {
  const logger = {};
  LEVELS.forEach((method, rank) => {
    logger[method] = (...args) => {
      if (rank <= level) console[method](`[${name}]`, ...args);
    };
  });
  return logger;
}
