/**
 * The retransmission timer of the link (RFC 6298's estimator, as TCP's): a smoothed
 * round-trip time and its mean deviation per kind of call, RTO = SRTT + 4 RTTVAR,
 * doubled on every timeout (exponential backoff) and kept doubled until a call answered
 * at its first attempt gives a new sample (Karn's rule: a retransmitted call's reply
 * cannot say which attempt it answers, so it is never sampled).
 *
 * Calls differ in size (a 1-step run and a 1000-step evaluation run), so each call kind
 * and reply-size class (powers of two) keeps its own estimator. Written by hand: the
 * estimator is eight lines and no npm package offers it without a transport around it.
 */

export interface RtoOptions {
  /** RTO before the first sample, ms (RFC 6298 says 1 s). */
  initialMs: number;
  /** Floor, ms: below it scheduling noise on a loaded host would trigger needless retries. */
  minMs: number;
  /** Ceiling, ms (backoff stops here). */
  maxMs: number;
}

export const DEFAULT_RTO: RtoOptions = { initialMs: 1000, minMs: 40, maxMs: 8000 };

interface Estimator {
  srtt: number;
  rttvar: number;
  /** Current RTO, ms, including any backoff. */
  rto: number;
  sampled: boolean;
}

export class RetransmissionTimer {
  private readonly est = new Map<string, Estimator>();

  constructor(private readonly opts: RtoOptions = DEFAULT_RTO) {}

  private get(key: string): Estimator {
    let e = this.est.get(key);
    if (!e) {
      e = { srtt: 0, rttvar: 0, rto: this.opts.initialMs, sampled: false };
      this.est.set(key, e);
    }
    return e;
  }

  /** The timeout for the next attempt of a call of this kind, ms. */
  timeout(key: string): number {
    return this.get(key).rto;
  }

  /** A call answered at its first attempt after `ms`. */
  sample(key: string, ms: number): void {
    const e = this.get(key);
    if (!e.sampled) {
      e.srtt = ms;
      e.rttvar = ms / 2;
      e.sampled = true;
    } else {
      e.rttvar = 0.75 * e.rttvar + 0.25 * Math.abs(e.srtt - ms);
      e.srtt = 0.875 * e.srtt + 0.125 * ms;
    }
    e.rto = this.clamp(e.srtt + 4 * e.rttvar);
  }

  /** An attempt timed out: double the RTO (until the next sample). */
  backoff(key: string): void {
    const e = this.get(key);
    e.rto = this.clamp(e.rto * 2);
  }

  /** Whether a call kind has a round-trip sample (its RTO then measures the whole round trip, wire time included). */
  sampled(key: string): boolean {
    return this.est.get(key)?.sampled ?? false;
  }

  /** Smoothed round-trip time of a call kind, ms (0 before a sample). */
  srtt(key: string): number {
    return this.est.get(key)?.srtt ?? 0;
  }

  private clamp(ms: number): number {
    return Math.min(this.opts.maxMs, Math.max(this.opts.minMs, Math.ceil(ms)));
  }
}

/** The estimator key of a call: its kind and the power-of-two class of its largest reply. */
export function rtoKey(call: string, replyBytes: number): string {
  return `${call}:${Math.ceil(Math.log2(Math.max(1, replyBytes)))}`;
}
