// The chip context: everything one configured chip holds besides its buffers. One
// instance lives in chip.ts; the step and update functions take it as an argument.
import { Fmt } from './fixed';
import { Layout } from './layout';

@unmanaged
export class Chip {
  /** Buffer addresses and sizes (layout.ts). */
  L: Layout = new Layout();
  // the five formats, unpacked once at configure (fixed.ts)
  fIn: Fmt = new Fmt();
  fW: Fmt = new Fmt();
  fPre: Fmt = new Fmt();
  fAct: Fmt = new Fmt();
  fOut: Fmt = new Fmt();
  /** Hidden nonlinearity (activation.ts ACT_*). */
  act: i32 = 0;
  /** The fast tanh's code table, biased by pre.min (step.ts prepareActivation); 0: the general path. */
  tanhCodes: usize = 0;
  /** Seed of the noise and rounding streams. */
  seed: u64 = 0;
  /** gaussScale of the hidden and output noise sigmas (LSBs). */
  scaleHidden: i64 = 0;
  scaleOutput: i64 = 0;
  /** Biases b (L.bb, pre codes) and c (L.bc, output codes) are added and learnt (docs/kernel.md, "Biases"). */
  bias: bool = false;
  /** The learner's eligibility trace (trace.ts TRACE_*; docs/kernel.md, "Eligibility traces"): 0 = plain ANP-T. */
  elig: i32 = 0;
  /** The trace decay as a Q16 code, and the traces' scale exponents T_W, T_R, T_b. */
  decayQ: i64 = 0;
  tW: i32 = 0;
  tR: i32 = 0;
  tB: i32 = 0;
  /** Per-neuron gain and offset (in L.gain, L.offset) are applied. */
  mismatch: bool = false;
  /** sqrt(I + H + O) of the update's factors. */
  sqrtN: f64 = 0;
  /** Mantissa bits M of the update (plasticity.ts mantissaBits). */
  mantBits: i32 = 14;
  configured: bool = false;
  /** The last noisy chunk, waiting for its reward (0 steps: none). */
  pendingSteps: i32 = 0;
  pendingT0: u32 = 0;
  /** Trace bank (layout.ts xs2, rs2) of the last run: 0 or 1; always 0 without a second bank. */
  bank: i32 = 0;
  /** A rewarded chunk whose update the next run applies (threads build with a second bank; chip.ts reward). */
  deferSteps: i32 = 0;
  deferT0: u32 = 0;
  deferLrW: f64 = 0;
  deferLrR: f64 = 0;
  deferLrV: f64 = 0;
  stepCount: u64 = 0;
  updateCount: u64 = 0;
}
