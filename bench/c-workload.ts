/**
 * The workload of bench/c/step.c (its header comment) on the emulator, through the
 * Device interface: the same configuration, weights, inputs and rewards. Used by the
 * benchmark (same step, WASM vs gcc) and by the cross-check (same bits).
 */
import { EmulatorDevice } from '../src/device/emulator.js';
import { q } from '../src/format/fixed.js';
import type { DeviceConfig } from '../src/device/types.js';
import type { KernelExports, KernelFlavour } from '../src/device/wasm.js';
import { instantiateKernel } from '../src/device/wasm.js';

const LR = { w: 0.1, r: 0.1, v: 0.1 };

export function cConfig(H: number, B: number, seed: number, maxChunkSteps = 1): DeviceConfig {
  return {
    topology: { inputs: 1, hidden: H, outputs: 1, batch: B, activation: 'tanh' },
    formats: { input: q(3, 12), weight: q(3, 12), pre: q(3, 12), activity: q(0, 15), output: q(3, 12) },
    noise: { hiddenSigma: 4 / 4096, outputSigma: 4 / 4096 },
    seed,
    maxChunkSteps,
  };
}

/** gauss(sigmaLsb, mix64(key(seed, stream, a, b) ^ n)) with the kernel's own primitives. */
function gaussAt(k: KernelExports, sigmaLsb: number, seed: number, stream: number, a: number, b: number, n: number): number {
  return Number(k.testGauss(sigmaLsb, k.testMix64(k.testKey(BigInt(seed), BigInt(stream), BigInt(a), BigInt(b)) ^ BigInt(n))));
}

export interface Workload {
  device: EmulatorDevice;
  /** x codes of step t, B values (I = 1). */
  inputs(t: number): Float64Array;
  reward(t: number): number;
}

/** Configure an emulator with the C workload's weights (streams 100..104 of the spec's RNG). */
export async function cWorkload(H: number, B: number, seed: number, dLScale = 1e-5, flavour: KernelFlavour = 'simd', rowSkip = true): Promise<Workload> {
  const k = instantiateKernel('scalar');
  const device = new EmulatorDevice({ flavour, rowSkip });
  await device.configure(cConfig(H, B, seed));
  const sR = Math.round((0.9 * 4096.0) / Math.sqrt(H)); // ties cannot occur for these H
  const sV = Math.round(4096.0 / Math.sqrt(H));
  const lsb = 2 ** -12;
  await device.writeParams({
    w: Float64Array.from({ length: H }, (_, n) => gaussAt(k, 4096, seed, 100, 0, 0, n) * lsb),
    r: Float64Array.from({ length: H * H }, (_, n) => gaussAt(k, sR, seed, 101, 0, 0, n) * lsb),
    v: Float64Array.from({ length: H }, (_, n) => gaussAt(k, sV, seed, 102, 0, 0, n) * lsb),
  });
  return {
    device,
    inputs: (t) => Float64Array.from({ length: B }, (_, b) => gaussAt(k, 2048, seed, 103, b, t, 0) * lsb),
    reward: (t) => (gaussAt(k, 4096, seed, 104, t, 0, 0) / 4096.0) * dLScale,
  };
}

/** One online training step of the workload (run 1 step, reward it). */
export async function workloadStep(w: Workload, t: number): Promise<{ clean: Float64Array; noisy: Float64Array }> {
  const res = await w.device.run({ steps: 1, t0: t, inputs: w.inputs(t), noisy: true });
  await w.device.reward({ t0: t, deltaLoss: new Float64Array([w.reward(t)]), lr: LR });
  return res;
}

/** FNV-1a 64 over the int16 codes (little-endian) of W, R, V, unpadded: the C dump's hash. */
export function fnv1a64(codes: number[]): string {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (const c of codes) {
    const u = c & 0xffff;
    for (const byte of [u & 0xff, u >> 8]) {
      h ^= BigInt(byte);
      h = (h * prime) & 0xffffffffffffffffn;
    }
  }
  return h.toString(16).padStart(16, '0');
}

/** The emulator's version of `step dump H B steps seed dLScale`: per-step codes and the final hash. */
export async function emulatorDump(H: number, B: number, steps: number, seed: number, dLScale: number, rowSkip = true): Promise<{ y: number[][]; yn: number[][]; hash: string }> {
  const w = await cWorkload(H, B, seed, dLScale, 'simd', rowSkip);
  const y: number[][] = [];
  const yn: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const res = await workloadStep(w, t);
    y.push(Array.from(res.clean, (v) => Math.round(v * 4096)));
    yn.push(Array.from(res.noisy, (v) => Math.round(v * 4096)));
  }
  const p = await w.device.readParams();
  const codes = [...p.w, ...p.r, ...p.v].map((v) => Math.round(v * 4096));
  return { y, yn, hash: fnv1a64(codes) };
}
