/** Open a byte transport from a link URL (transport.ts has the URL syntax). */

import { openSerial } from './transport-serial.js';
import { connectTcp } from './transport-tcp.js';
import { LinkError, parseLinkUrl, type ByteTransport } from './transport.js';

/**
 * Open a transport from a URL. Throws LinkError with a one-line message for a bad URL
 * or a link that cannot be opened. The serialport module (native bindings) is loaded
 * only for serial URLs (transport-serial.ts imports it when a port is opened).
 */
export async function openTransport(url: string, opts: { connectTimeoutMs?: number } = {}): Promise<ByteTransport> {
  const parsed = parseLinkUrl(url);
  if (parsed.status !== 'OK') throw new LinkError(parsed.status, parsed.detail);
  const u = parsed.value;
  if (u.kind === 'tcp') {
    return connectTcp(u.host, u.port, opts);
  }
  return openSerial(u.path, u.baudRate);
}
