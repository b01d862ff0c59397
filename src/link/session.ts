/**
 * The device's session table (protocol 2): which host holds the board, and since when.
 * One session at most; docs/protocol.md section "Sessions" is the specification.
 *
 * - Hello opens a session when none is open, when the open one's lease ran out, or
 *   with take_over; a Hello with the holder's own host_nonce resumes it (same id);
 *   any other Hello is refused BUSY, naming the holder.
 * - A changing call must carry the open session's id: another id while a session is
 *   open is BUSY, any id while none is open is NO_SESSION.
 * - Every request carrying the open id renews the lease.
 * - A session also ends when the link it was opened on closes (release(), for links
 *   that can tell: a TCP connection; a UART cannot).
 *
 * Kept apart from the server so firmware authors can read the rule in one place.
 */

/** Calls that change the board and so need the open session (Request.session). */
export const CHANGING_CALLS: ReadonlySet<string> = new Set(['configure', 'writeParams', 'run', 'reward', 'resetState', 'preload']);

export interface SessionHello {
  hostName: string;
  hostNonce: number;
  takeOver: boolean;
}

export type HelloOutcome =
  /** `fresh`: a new session (the replay cache must be cleared); else the holder resumed it. */
  | { status: 'OK'; sessionId: number; fresh: boolean }
  | { status: 'BUSY'; holder: string; heldMs: number };

export type CallOutcome = { status: 'OK' } | { status: 'BUSY'; holder: string; heldMs: number } | { status: 'NO_SESSION' };

export interface SessionOptions {
  /** A session with no request for this long ends by itself, ms; 0 = never. */
  leaseMs: number;
  /** Clock, ms. Default performance.now. */
  now?: () => number;
  /** Source of session ids (uint32; 0 is replaced). Default Math.random. */
  randomId?: () => number;
}

interface Open {
  id: number;
  nonce: number;
  holder: string;
  openedAt: number;
  lastSeen: number;
  /** The link it was opened on (see release). */
  link?: object;
}

export class SessionTable {
  private open: Open | undefined;
  private readonly now: () => number;
  private readonly randomId: () => number;

  constructor(readonly opts: SessionOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.randomId = opts.randomId ?? (() => Math.floor(Math.random() * 2 ** 32));
  }

  get leaseMs(): number {
    return this.opts.leaseMs;
  }

  /** The open session's id, 0 if none. */
  get current(): number {
    return this.live()?.id ?? 0;
  }

  /** A Hello arrived (over `link`, if the server can tell links apart). */
  hello(h: SessionHello, link?: object): HelloOutcome {
    const o = this.live();
    const t = this.now();
    if (o && o.nonce === h.hostNonce && h.hostNonce !== 0) {
      o.lastSeen = t;
      o.holder = h.hostName;
      o.link = link;
      return { status: 'OK', sessionId: o.id, fresh: false };
    }
    if (o && !h.takeOver) return { status: 'BUSY', holder: o.holder, heldMs: Math.round(t - o.openedAt) };
    let id = this.randomId() >>> 0;
    while (id === 0 || id === o?.id) id = this.randomId() >>> 0;
    this.open = { id, nonce: h.hostNonce, holder: h.hostName, openedAt: t, lastSeen: t, link };
    return { status: 'OK', sessionId: id, fresh: true };
  }

  /** May a call carrying `session` run? `changing` calls need the open session; every call with its id renews the lease. */
  check(session: number, changing: boolean): CallOutcome {
    const o = this.live();
    if (o && session === o.id) {
      o.lastSeen = this.now();
      return { status: 'OK' };
    }
    if (!changing) return { status: 'OK' };
    if (!o) return { status: 'NO_SESSION' };
    return { status: 'BUSY', holder: o.holder, heldMs: Math.round(this.now() - o.openedAt) };
  }

  /** `link` closed: end the session opened on it, if any. */
  release(link: object): void {
    if (this.open?.link === link) this.open = undefined;
  }

  /** The open session, after ending it if its lease ran out. */
  private live(): Open | undefined {
    const o = this.open;
    if (o && this.opts.leaseMs > 0 && this.now() - o.lastSeen > this.opts.leaseMs) this.open = undefined;
    return this.open;
  }
}
