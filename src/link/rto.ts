/**
 * The retransmission timer of the link (RFC 6298's estimator, as TCP's): a smoothed
 * round-trip time and its mean deviation per kind of call, RTO = SRTT + 4 RTTVAR,
 * doubled once for every attempt (a call, or a round of a pipelined window) that timed
 * out, and set back to SRTT + 4 RTTVAR once the call is answered (`restore`): a timeout
 * on this link is a lost frame far more often than a slow board, and a backoff kept
 * after an answered retry made the next call start at up to the 8 s ceiling (the
 * failed 10 %-drop run of docs/link-faults.md). Samples come only from replies that
 * are known to answer a call's first transmission (ReplyLog below): Karn's rule, with
 * the ambiguity resolved where the replies' count resolves it.
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

  /** An attempt timed out: double the RTO (once per attempt, however many requests it carried). */
  backoff(key: string): void {
    const e = this.get(key);
    e.rto = this.clamp(e.rto * 2);
  }

  /** A call of this kind was answered after retries: undo its backoff (SRTT + 4 RTTVAR, or the initial RTO before any sample). */
  restore(key: string): void {
    const e = this.get(key);
    e.rto = e.sampled ? this.clamp(e.srtt + 4 * e.rttvar) : this.opts.initialMs;
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

interface Track {
  key: string;
  /** When each copy of the request was sent. */
  sends: number[];
  /** When each reply with its id came (any reply: an answer, a refusal, one that failed its check). */
  replies: number[];
  /** Which of those replies the call took as its answer. */
  answer?: number;
}

/** Calls remembered for late replies (a pipelined window holds at most a few). */
const TRACKED_CALLS = 64;

/**
 * Which transmission of a call a reply answers. The protocol has no attempt number: a
 * retry is the same bytes under the same id. But the device answers every copy it gets,
 * one reply each, in order (a byte stream; copies of an applied request from its replay
 * cache), so once as many replies have come as copies were sent, the k-th reply answers
 * the k-th copy. Before that a reply is ambiguous and never sampled (Karn's rule). Only
 * an answer to the *first* copy is a sample: a later copy of an applied request is
 * answered from the replay cache without the device's work, and its round trip would
 * make the RTO too short. So a reply that came before a needless retry (a slow reply,
 * a stall) is sampled once the retry's duplicate arrives, and a retry that was needed
 * (the first copy or its reply lost) gives no sample.
 */
export class ReplyLog {
  private readonly calls = new Map<number, Track>();

  constructor(private readonly onSample: (key: string, ms: number) => void) {}

  /** A call starts (its id's earlier history, if any, is forgotten). */
  begin(id: number, key: string): void {
    this.calls.delete(id);
    this.calls.set(id, { key, sends: [], replies: [] });
    if (this.calls.size > TRACKED_CALLS) this.calls.delete(this.calls.keys().next().value as number);
  }

  /** A copy of the request went out. */
  sent(id: number, at: number): void {
    this.calls.get(id)?.sends.push(at);
  }

  /** A reply with this id came; returns its index among the call's replies. */
  heard(id: number, at: number): number | undefined {
    const t = this.calls.get(id);
    if (!t) return undefined;
    t.replies.push(at);
    this.settle(id, t);
    return t.replies.length - 1;
  }

  /** The call took its `index`-th reply as the answer. */
  answered(id: number, index: number | undefined): void {
    const t = this.calls.get(id);
    if (!t || index === undefined) return;
    t.answer = index;
    this.settle(id, t);
  }

  private settle(id: number, t: Track): void {
    if (t.replies.length > t.sends.length || (t.answer !== undefined && t.answer > 0)) {
      this.calls.delete(id); // more replies than copies (a stale one), or a retry's answer: never a sample
    } else if (t.answer === 0 && t.replies.length === t.sends.length) {
      this.calls.delete(id);
      this.onSample(t.key, t.replies[0] - t.sends[0]);
    }
  }
}
