/**
 * Byte transports: the one thing the link needs from a wire, and link URLs.
 *
 *   tcp://127.0.0.1:5555             TCP (host defaults to 127.0.0.1: tcp://:5555)
 *   serial:///dev/ttyACM0?baud=115200 serial port (baud defaults to 115200)
 *   serial://COM3?baud=921600         Windows port name
 *
 * Transports carry raw bytes with no framing or integrity: frame.ts does that.
 * open-transport.ts opens one from a URL (this module is the leaf the transports
 * themselves import).
 */

import { DeviceError, type DeviceErrorCode } from '../device/errors.js';

export interface ByteTransport {
  /** For messages, e.g. "tcp://127.0.0.1:5555". */
  readonly name: string;
  /** Line rate, bytes/s, when the wire is slow enough to matter (serial: baud / 10). */
  readonly bytesPerSecond?: number;
  /** Send bytes; resolves once handed to the OS or driver, rejects if the link is gone. */
  write(bytes: Uint8Array): Promise<void>;
  /** Set the receiver of incoming bytes (arbitrary splits). A later call replaces it. */
  onData(cb: (bytes: Uint8Array) => void): void;
  /** Set the callback told once when the link closes (`reason` set if it failed). */
  onClose(cb: (reason?: Error) => void): void;
  /** Close the link; idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_TCP_HOST = '127.0.0.1';
export const DEFAULT_BAUD = 115200;

export type LinkUrl =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'serial'; path: string; baudRate: number };

export type ParseResult = { status: 'OK'; value: LinkUrl } | { status: 'INVALID_ARGUMENT'; detail: string };

const USAGE = 'use tcp://HOST:PORT (e.g. tcp://127.0.0.1:5555) or serial://PATH?baud=N (e.g. serial:///dev/ttyACM0?baud=115200)';

/** Parse a link URL; errors are one line that says what to write instead. */
export function parseLinkUrl(url: string): ParseResult {
  const bad = (detail: string): ParseResult => ({ status: 'INVALID_ARGUMENT', detail });
  const text = url.trim();
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(text);
  if (!m) return bad(`link "${url}" has no scheme; ${USAGE}`);
  const scheme = m[1].toLowerCase();
  const rest = m[2];
  if (scheme === 'tcp') return parseTcp(url, rest, bad);
  if (scheme === 'serial') return parseSerial(url, rest, bad);
  return bad(`link "${url}": unknown scheme "${m[1]}:"; ${USAGE}`);
}

function parseTcp(url: string, rest: string, bad: (d: string) => ParseResult): ParseResult {
  if (rest.includes('?') || rest.includes('/')) return bad(`link "${url}": a tcp link takes only HOST:PORT, e.g. tcp://127.0.0.1:5555`);
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(.*))?$/.exec(rest);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const i = rest.lastIndexOf(':');
    if (i < 0) {
      host = rest;
      portText = undefined;
    } else {
      host = rest.slice(0, i);
      portText = rest.slice(i + 1);
      if (host.includes(':')) return bad(`link "${url}": write an IPv6 host in brackets, e.g. tcp://[::1]:5555`);
    }
  }
  if (portText === undefined || portText === '') return bad(`link "${url}" has no port; write tcp://${host || DEFAULT_TCP_HOST}:5555`);
  if (!/^\d+$/.test(portText)) return bad(`link "${url}": port "${portText}" is not a number; write e.g. tcp://${host || DEFAULT_TCP_HOST}:5555`);
  const port = Number(portText);
  if (port < 1 || port > 65535) return bad(`link "${url}": port ${port} is out of range 1..65535`);
  return { status: 'OK', value: { kind: 'tcp', host: host || DEFAULT_TCP_HOST, port } };
}

function parseSerial(url: string, rest: string, bad: (d: string) => ParseResult): ParseResult {
  const q = rest.indexOf('?');
  const path = decodeURIComponent(q < 0 ? rest : rest.slice(0, q));
  const query = q < 0 ? '' : rest.slice(q + 1);
  if (path === '' || path === '/') return bad(`link "${url}" has no port path; write serial:///dev/ttyACM0?baud=115200 or serial://COM3?baud=115200`);
  let baudRate = DEFAULT_BAUD;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const [key, value = ''] = part.split('=', 2);
    if (key !== 'baud') return bad(`link "${url}": unknown option "${key}"; the only serial option is baud, e.g. ?baud=115200`);
    if (!/^\d+$/.test(value) || Number(value) === 0) return bad(`link "${url}": baud "${value}" is not a positive whole number; write e.g. ?baud=115200`);
    baudRate = Number(value);
  }
  return { status: 'OK', value: { kind: 'serial', path, baudRate } };
}

/** The canonical text of a parsed URL (for names and logs). */
export function formatLinkUrl(u: LinkUrl): string {
  if (u.kind === 'tcp') return `tcp://${u.host.includes(':') ? `[${u.host}]` : u.host}:${u.port}`;
  return `serial://${u.path}?baud=${u.baudRate}`;
}

/** Device error codes that travel unchanged as link statuses (a device refusal). */
const DEVICE_CODES: ReadonlySet<string> = new Set<DeviceErrorCode>([
  'BAD_REQUEST', 'BAD_INPUT', 'NOT_CONFIGURED', 'NO_PENDING_CHUNK', 'CONFIG_OUT_OF_RANGE', 'UNSUPPORTED_VERSION', 'TOO_LARGE', 'INTERNAL',
  'BUSY', 'NO_SESSION', 'DATA_LOSS',
]);

/**
 * A link failure or a device refusal seen through the link, with a message a user can
 * act on. `status` is the link-level status name ('UNAVAILABLE', 'DEADLINE_EXCEEDED',
 * 'NO_PENDING_CHUNK', ...); `code` is the DeviceErrorCode every backend uses (a
 * timeout is 'TIMEOUT', a broken or closed link 'LINK'), so code that handles the
 * emulator's DeviceError handles a board's errors too.
 */
export class LinkError extends DeviceError {
  constructor(
    readonly status: string,
    message: string,
  ) {
    super(DEVICE_CODES.has(status) ? (status as DeviceErrorCode) : status === 'DEADLINE_EXCEEDED' ? 'TIMEOUT' : 'LINK', message);
    this.name = 'LinkError';
  }
}
