/**
 * In-process byte pipe: two connected ByteTransports, for tests and for serving an
 * in-process device through the full link stack. Delivery is asynchronous (next
 * macrotask), like a real wire, and each direction can pass through a fault hook
 * that may drop, corrupt or split the bytes of a write.
 */

import { LinkError, type ByteTransport } from './transport.js';

/** Maps the bytes of one write to what arrives: any number of chunks (none = lost). */
export type FaultHook = (bytes: Uint8Array) => Uint8Array[];

export interface MemoryPairOptions {
  /** Applied to bytes written by `a` (host side), before `b` receives them. */
  aToB?: FaultHook;
  /** Applied to bytes written by `b` (device side), before `a` receives them. */
  bToA?: FaultHook;
}

class MemoryEnd implements ByteTransport {
  peer!: MemoryEnd;
  private dataCb: (bytes: Uint8Array) => void = () => {};
  private closeCb: (reason?: Error) => void = () => {};
  private closed = false;

  constructor(
    readonly name: string,
    private readonly hook: FaultHook | undefined,
  ) {}

  write(bytes: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new LinkError('UNAVAILABLE', `${this.name}: closed`));
    const copy = bytes.slice();
    const chunks = this.hook ? this.hook(copy) : [copy];
    const peer = this.peer;
    setImmediate(() => {
      for (const c of chunks) if (!peer.closed) peer.dataCb(c);
    });
    return Promise.resolve();
  }

  onData(cb: (bytes: Uint8Array) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (reason?: Error) => void): void {
    this.closeCb = cb;
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      const peer = this.peer;
      setImmediate(() => {
        this.closeCb();
        if (!peer.closed) {
          peer.closed = true;
          peer.closeCb();
        }
      });
    }
    return Promise.resolve();
  }
}

/** Two connected transports: `a` for the host, `b` for the device. */
export function memoryPair(opts: MemoryPairOptions = {}): { a: ByteTransport; b: ByteTransport } {
  const a = new MemoryEnd('memory://host', opts.aToB);
  const b = new MemoryEnd('memory://device', opts.bToA);
  a.peer = b;
  b.peer = a;
  return { a, b };
}
