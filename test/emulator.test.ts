// The WASM chip through the Device interface: golden vectors, determinism, SIMD vs
// scalar, agreement with a Float64 forward pass, activation accuracy, bad input.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { EmulatorDevice, layoutEstimate } from '../src/device/emulator.js';
import { defaultChipFormats, packFormat } from '../src/device/config.js';
import { runGolden } from '../src/device/golden.js';
import type { GoldenVector } from '../src/device/golden.js';
import { instantiateKernel } from '../src/device/wasm.js';
import { q } from '../src/format/fixed.js';
import type { DeviceConfig, Params } from '../src/device/types.js';
import { arbChipConfig, chipConfigOf } from './arb-chip-config.js';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function randomParams(I: number, H: number, O: number, seed: number, rScale = 1.6): Params {
  const r = lcg(seed);
  return {
    w: Float64Array.from({ length: H * I }, () => r() * 2),
    r: Float64Array.from({ length: H * H }, () => (r() * 2 * rScale) / Math.sqrt(H)),
    v: Float64Array.from({ length: O * H }, () => (r() * 2) / Math.sqrt(H)),
  };
}

/** Train a few chunks; return every output and the final weights. */
async function trainTrace(dev: EmulatorDevice, config: DeviceConfig, chunks: number, chunk: number, dataSeed: number) {
  const { inputs: I, hidden: H, outputs: O, batch: B } = config.topology;
  await dev.configure(config);
  await dev.writeParams(randomParams(I, H, O, dataSeed));
  const rnd = lcg(dataSeed + 1);
  const outs: number[] = [];
  for (let c = 0; c < chunks; c++) {
    const t0 = c * chunk;
    const res = await dev.run({ steps: chunk, t0, inputs: Float64Array.from({ length: chunk * B * I }, () => rnd() * 2), noisy: true, hiddenTrace: true });
    outs.push(...res.clean, ...res.noisy, ...res.hidden!);
    await dev.reward({ t0, deltaLoss: Float64Array.from({ length: chunk }, () => rnd() * 1e-3), lr: { w: 0.3, r: 0.3, v: 0.3 } });
  }
  const p = await dev.readParams();
  return { outs, w: Array.from(p.w), r: Array.from(p.r), v: Array.from(p.v) };
}

describe('golden vectors (docs/golden-vectors.md)', () => {
  const files = readdirSync('test/golden').filter((f) => f.endsWith('.json'));
  it('there are at least three, including 8-bit and 16-bit weights', () => {
    const specs = files.map((f) => JSON.parse(readFileSync(`test/golden/${f}`, 'utf8')) as GoldenVector);
    expect(specs.length).toBeGreaterThanOrEqual(3);
    const bits = specs.map((s) => s.config.formats.weight.bits);
    expect(bits).toContain(8);
    expect(bits).toContain(16);
    for (const s of specs) expect(s.chunk * s.chunks).toBeGreaterThanOrEqual(100);
  });
  for (const file of files) {
    for (const flavour of ['simd', 'scalar'] as const) {
      it(`${file} replays bit for bit (${flavour})`, async () => {
        const v = JSON.parse(readFileSync(`test/golden/${file}`, 'utf8')) as GoldenVector;
        const got = await runGolden(new EmulatorDevice({ flavour }), v);
        expect(got).toEqual(v.expected);
      });
    }
  }
});

describe('determinism', () => {
  const base: DeviceConfig = {
    topology: { inputs: 3, hidden: 40, outputs: 2, batch: 3, activation: 'tanh' },
    formats: defaultChipFormats({ weightBits: 8 }),
    noise: { hiddenSigma: 0.01, outputSigma: 0.01 },
    mismatch: { gainSpread: 0.05, offsetSpread: 0.01, seed: 3 },
    seed: 99,
    maxChunkSteps: 8,
  };
  it('the same seed gives the same bits on every run', async () => {
    const a = await trainTrace(new EmulatorDevice(), base, 6, 8, 5);
    const b = await trainTrace(new EmulatorDevice(), base, 6, 8, 5);
    expect(b).toEqual(a);
  });
  it('a different noise seed gives different noisy outputs', async () => {
    const a = await trainTrace(new EmulatorDevice(), base, 2, 8, 5);
    const b = await trainTrace(new EmulatorDevice(), { ...base, seed: 100 }, 2, 8, 5);
    expect(b.outs).not.toEqual(a.outs);
  });
  it('a chunk replayed from the same state with the same t0 draws the same noise', async () => {
    const dev = new EmulatorDevice();
    await dev.configure(base);
    await dev.writeParams(randomParams(3, 40, 2, 1));
    const inputs = Float64Array.from({ length: 8 * 3 * 3 }, lcg(4));
    const s0 = await dev.readState();
    const first = await dev.run({ steps: 8, t0: 1000, inputs, noisy: true });
    await dev.writeState(s0);
    const again = await dev.run({ steps: 8, t0: 1000, inputs, noisy: true });
    expect(again).toEqual(first);
  });

  const arbConfig = arbChipConfig();
  it('SIMD and scalar builds give identical outputs and weights (random configurations)', async () => {
    await fc.assert(
      fc.asyncProperty(arbConfig, async (c) => {
        const config = chipConfigOf(c);
        const a = await trainTrace(new EmulatorDevice({ flavour: 'simd' }), config, 4, 5, c.seed);
        const b = await trainTrace(new EmulatorDevice({ flavour: 'scalar' }), config, 4, 5, c.seed);
        expect(a).toEqual(b);
      }),
      { numRuns: 60 },
    );
  });
});

describe('accuracy', () => {
  it('16-bit clean forward pass matches a Float64 forward pass within 2 LSB on every output over 1000 steps', async () => {
    const I = 2, H = 64, O = 3, B = 2, K = 100;
    const formats = defaultChipFormats({ weightBits: 16, activityBits: 16 });
    const dev = new EmulatorDevice();
    await dev.configure({ topology: { inputs: I, hidden: H, outputs: O, batch: B, activation: 'tanh' }, formats, noise: { hiddenSigma: 0, outputSigma: 0 }, seed: 1, maxChunkSteps: K });
    await dev.writeParams(randomParams(I, H, O, 11, 1.5));
    const p = await dev.readParams(); // the exact weights the chip holds
    const rnd = lcg(12);
    const outLsb = 2 ** -formats.output.frac;
    let r = new Float64Array(B * H);
    let worst = 0;
    for (let c = 0; c < 1000 / K; c++) {
      // inputs on the input grid, so both passes see the same numbers
      const inputs = Float64Array.from({ length: K * B * I }, () => Math.round(rnd() * 2 * 2 ** formats.input.frac) * 2 ** -formats.input.frac);
      const res = await dev.run({ steps: K, t0: c * K, inputs, noisy: false });
      for (let k = 0; k < K; k++) {
        const next = new Float64Array(B * H);
        for (let b = 0; b < B; b++) {
          for (let i = 0; i < H; i++) {
            let a = 0;
            for (let j = 0; j < I; j++) a += p.w[i * I + j] * inputs[(k * B + b) * I + j];
            for (let j = 0; j < H; j++) a += p.r[i * H + j] * r[b * H + j];
            next[b * H + i] = Math.tanh(a);
          }
          for (let o = 0; o < O; o++) {
            let y = 0;
            for (let j = 0; j < H; j++) y += p.v[o * H + j] * next[b * H + j];
            worst = Math.max(worst, Math.abs(y - res.clean[(k * B + b) * O + o]) / outLsb);
          }
        }
        r = next;
      }
    }
    expect(worst).toBeLessThanOrEqual(2);
  });

  it('the host reads the layout from the kernel: its buffers end where layoutEstimate says', async () => {
    const k = instantiateKernel('scalar');
    for (const [I, H, O, B, K] of [[1, 1, 1, 1, 1], [3, 100, 2, 10, 64], [9, 1000, 1, 4, 512]]) {
      const fmt = packFormat(q(3, 12));
      expect(k.configure(I, H, O, B, K, 0, fmt, fmt, fmt, packFormat(q(0, 15)), fmt, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0)).toBe(k.OK.value);
      // the rewards buffer (K binary64) is the last one
      expect(k.ptrRewards() + 8 * K).toBeLessThanOrEqual(k.memoryBase() + layoutEstimate(I, H, O, B, K));
      expect(k.ptrRewards() + 8 * K + 16).toBeGreaterThan(k.memoryBase() + layoutEstimate(I, H, O, B, K));
    }
    // a layout past the 32-bit address space is measured in 64 bits, not wrapped
    expect(layoutEstimate(4096, 4096, 4096, 256, 65536)).toBeGreaterThan(2 ** 32);
    expect(layoutEstimate(1, 1, 1, 257, 1)).toBe(Infinity);
  });

  it('the kernel refuses sizes beyond its limits itself, and the refusal changes nothing', async () => {
    const k = instantiateKernel('scalar');
    const fmt = packFormat(q(3, 12)), act = packFormat(q(0, 15));
    const configure = (I: number, H: number, O: number, B: number, K: number) => k.configure(I, H, O, B, K, 0, fmt, fmt, fmt, act, fmt, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    expect(configure(2, 8, 1, 4, 3)).toBe(k.OK.value);
    const staging = new Int16Array(k.memory.buffer, k.ptrStaging(), 8 * 2);
    staging.set(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(k.loadTensor(k.T_W.value)).toBe(k.OK.value);
    const memory = k.memory.buffer.byteLength;
    for (const sizes of [[2, 8, 1, 257, 3], [2, 8, 1, 0, 3], [4097, 8, 1, 4, 3], [2, 4097, 1, 4, 3], [2, 8, 4097, 4, 3], [2, 8, 1, 4, 65537], [2, 8, 1, 4, 0]] as const)
      expect(configure(...sizes)).toBe(k.ERR_SIZE.value);
    expect(k.loadTensor(99)).toBe(k.ERR_TENSOR.value);
    expect(k.memory.buffer.byteLength).toBe(memory);
    // still the old configuration, weights intact
    expect(k.storeTensor(k.T_W.value)).toBe(k.OK.value);
    expect(Array.from(new Int16Array(k.memory.buffer, k.ptrStaging(), 16))).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(k.layoutBytes(2, 8, 1, 257, 3)).toBe(-1);
  });

  it('fixed-point tanh: worst-case error against Math.tanh is below 5e-5 (Q3.12 in, Q0.15 out)', () => {
    const k = instantiateKernel('scalar');
    const act = packFormat(q(0, 15));
    let worst = 0;
    for (let a = -32768; a <= 32767; a++) {
      const y = Number(k.testActivate(0, BigInt(a), 12, act, 0)) / 32768;
      worst = Math.max(worst, Math.abs(y - Math.tanh(a / 4096)));
    }
    // Measured: 3.1e-5 = table interpolation (<= 2.3e-5) + output rounding (<= 1.5e-5).
    expect(worst).toBeLessThan(5e-5);
  });
});

describe('the tight tanh loop', () => {
  it('equals the general activation for every pre-activation code', () => {
    const k = instantiateKernel('scalar');
    for (const [pBits, pF, aBits, aF] of [[16, 12, 16, 15], [16, 16, 16, 15], [16, 0, 8, 7], [12, 8, 10, 9], [8, 4, 8, 7]]) {
      const act = packFormat({ bits: aBits, frac: aF, signed: true, rounding: 'nearest', overflow: 'sat' });
      for (let a = -(2 ** (pBits - 1)); a < 2 ** (pBits - 1); a++)
        if (k.testTanhFast(a, pF, aF, aBits) !== Number(k.testActivate(0, BigInt(a), pF, act, 0))) throw new Error(`differs at a=${a}, pF=${pF}, aF=${aF}`);
    }
  });
});

describe('configuration and input errors', () => {
  const good: DeviceConfig = {
    topology: { inputs: 1, hidden: 8, outputs: 1, batch: 1, activation: 'tanh' },
    formats: defaultChipFormats(),
    noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
    seed: 1,
    maxChunkSteps: 4,
  };
  const cases: [string, (c: DeviceConfig) => void, RegExp][] = [
    ['weight bits out of range', (c) => (c.formats!.weight.bits = 17), /formats\.weight\.bits: 17 is out of range; allowed 2\.\.16/],
    ['fraction bits above total bits', (c) => (c.formats!.activity.frac = 16), /formats\.activity\.frac: 16 is out of range .*allowed 0\.\.15/],
    ['H = 0', (c) => (c.topology.hidden = 0), /topology\.hidden: 0 is out of range; allowed integers 1\.\.4096/],
    ['unknown rounding', (c) => ((c.formats!.weight as { rounding: string }).rounding = 'up'), /formats\.weight\.rounding: "up" is not a rounding mode; use nearest, floor, stochastic/],
    ['network larger than the emulator memory', (c) => { c.topology.hidden = 4096; c.topology.batch = 256; c.maxChunkSteps = 4096; }, /topology: needs \d+ MiB of emulator memory .* lower hidden, batch or maxChunkSteps/],
    ['noise beyond the generator range', (c) => (c.noise.hiddenSigma = 10), /noise\.hiddenSigma: 10 is 40960 LSBs of formats\.pre; allowed up to 4096/],
    ['negative seed', (c) => (c.seed = -1), /seed: -1 is out of range/],
  ];
  for (const [name, edit, message] of cases) {
    it(`refuses ${name} with a message naming the field`, async () => {
      const c = structuredClone(good);
      edit(c);
      await expect(new EmulatorDevice().configure(c)).rejects.toThrow(message);
    });
  }
  it('NaN inputs or rewards are refused and leave the weights untouched', async () => {
    const dev = new EmulatorDevice();
    await dev.configure(good);
    await dev.writeParams(randomParams(1, 8, 1, 2));
    const before = await dev.readParams();
    await expect(dev.run({ steps: 1, t0: 0, inputs: new Float64Array([NaN]), noisy: true })).rejects.toThrow(/run\.inputs\[0\] is NaN/);
    await dev.run({ steps: 1, t0: 0, inputs: new Float64Array([0.5]), noisy: true });
    await expect(dev.reward({ t0: 0, deltaLoss: new Float64Array([NaN]), lr: { w: 1, r: 1, v: 1 } })).rejects.toThrow(/deltaLoss\[0\] is NaN/);
    await expect(dev.reward({ t0: 5, deltaLoss: new Float64Array([1e-3]), lr: { w: 1, r: 1, v: 1 } })).rejects.toThrow(/does not match the last noisy run/);
    expect(await dev.readParams()).toEqual(before);
  });
  it('a reward without a pending chunk is refused, and a chunk is rewarded only once', async () => {
    const dev = new EmulatorDevice();
    await dev.configure(good);
    await expect(dev.reward({ t0: 0, deltaLoss: new Float64Array([1e-3]), lr: { w: 1, r: 1, v: 1 } })).rejects.toThrow(/no noisy chunk/);
    await dev.run({ steps: 1, t0: 0, inputs: new Float64Array([0.5]), noisy: true });
    await dev.reward({ t0: 0, deltaLoss: new Float64Array([1e-3]), lr: { w: 1, r: 1, v: 1 } });
    await expect(dev.reward({ t0: 0, deltaLoss: new Float64Array([1e-3]), lr: { w: 1, r: 1, v: 1 } })).rejects.toThrow(/no noisy chunk/);
  });
});
