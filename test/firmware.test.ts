// The C firmware (firmware/, issue 8) against the emulator: its kernel on the random
// configurations of the SIMD/scalar test, then the whole firmware over a real
// pseudo-terminal opened with serialport, as a Linux process and as the Cortex-M4
// build in QEMU (-M mps2-an386): golden vectors over the wire (with test/golden/bias and
// test/golden/trace), the bias and trace tensors, and `anpt train --port` with default
// flags (and --bias, --trace activity|innovation) giving the emulator's bits. Off CI, a missing toolchain skips
// with the Debian package to install; in CI (CI=true) it fails.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCFirmware, type RunningFirmware } from '../firmware-sim/c-firmware.js';
import { runCli } from '../src/cli/main.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import { runGolden, type GoldenVector } from '../src/device/golden.js';
import { defaultChipFormats } from '../src/device/config.js';
import type { DeviceConfig } from '../src/device/types.js';
import { ROUNDING_CODE, OVERFLOW_CODE, codeRange, type FixedFormat } from '../src/format/fixed.js';
import { traceFormats, traceLsb } from '../src/format/trace.js';
import { configToWire } from '../src/link/codes.js';
import * as pb from '../src/link/messages.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { xavierNormal } from '../src/model/rnn.js';
import { arbChipConfig, chipConfigOf } from './arb-chip-config.js';
import { buildFirmware, firmwarePath, missingTools } from './firmware-tools.js';

const hostMissing = missingTools(['make', 'gcc', 'nanopb_generator.py']);
const qemuMissing = hostMissing ?? missingTools(['arm-none-eabi-gcc', 'qemu-system-arm']);
if (hostMissing) console.warn(`test/firmware.test.ts: skipping the C firmware tests: ${hostMissing}`);
else if (qemuMissing) console.warn(`test/firmware.test.ts: skipping the QEMU tests: ${qemuMissing}`);

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** Random codes of a format, within ~70 % of its range (so wrap and sat both occur downstream). */
const codes = (n: number, f: FixedFormat, r: () => number, scale = 1.4) => {
  const { min, max } = codeRange(f);
  return Array.from({ length: n }, () => Math.max(min, Math.min(max, Math.round(r() * scale * (max - min) * 0.5))));
};

const fmtLine = (f: FixedFormat) => `${f.bits} ${f.frac} ${f.signed ? 1 : 0} ${ROUNDING_CODE[f.rounding]} ${OVERFLOW_CODE[f.overflow]}`;

/** Train a few chunks on the emulator and on firmware/core (kernel_check); both traces (with config.learner: and the eligibility traces). */
async function bothTraces(config: DeviceConfig, chunks: number, K: number, seed: number, dlScale = 1e-3, traceStart = 0) {
  const { inputs: I, hidden: H, outputs: O, batch: B, activation } = config.topology;
  const bias = config.topology.bias === true, learner = config.learner ?? { trace: 'none', decay: 0 };
  const f = config.formats!;
  const r = lcg(seed);
  const w = codes(H * I, f.weight, r), rr = codes(H * H, f.weight, r, 0.6 / Math.sqrt(H)), v = codes(O * H, f.weight, r, 1 / Math.sqrt(H));
  const bb = bias ? codes(H, f.pre, r, 0.5) : [], bc = bias ? codes(O, f.output, r, 0.5) : [];
  // the traces' first codes: 0, or every third entry near +-2^31 (sat32) and the rest random
  const e0 = (n: number) => Array.from({ length: n }, (_, i) => (traceStart === 0 ? 0 : i % 3 === 0 ? (r() < 0 ? -1 : 1) * (2 ** 31 - 1 - Math.floor((r() + 0.5) * 1000)) : Math.round(r() * traceStart)));
  const ew = learner.trace === 'none' ? [] : e0(H * I), er = learner.trace === 'none' ? [] : e0(H * H), eb = learner.trace !== 'none' && bias ? e0(H) : [];
  const ins = Array.from({ length: chunks }, () => codes(K * B * I, f.input, r));
  const dls = Array.from({ length: chunks }, () => Array.from({ length: K }, () => r() * dlScale));
  const lr = 0.3;
  const m = config.mismatch;
  const script = [
    `${I} ${H} ${O} ${B} ${K} ${{ tanh: 0, hardtanh: 1, linear: 2 }[activation]}`,
    ...[f.input, f.weight, f.pre, f.activity, f.output].map(fmtLine),
    `${config.seed} ${config.noise.hiddenSigma * 2 ** f.pre.frac} ${config.noise.outputSigma * 2 ** f.output.frac} ${m?.gainSpread ?? 0} ${(m?.offsetSpread ?? 0) * 2 ** f.pre.frac} ${m?.seed ?? 0}`,
    `${bias ? 1 : 0} ${{ none: 0, activity: 1, innovation: 2 }[learner.trace]} ${learner.decay}`,
    w.join(' '), rr.join(' '), v.join(' '), ...(bias ? [bb.join(' '), bc.join(' ')] : []),
    ...(learner.trace === 'none' ? [] : [ew.join(' '), er.join(' '), ...(bias ? [eb.join(' ')] : [])]), `${chunks} ${K}`,
    ...ins.map((x, c) => `${x.join(' ')}\n${dls[c].join(' ')}\n${lr} ${lr} ${lr}`),
  ].join('\n');
  const cLines = execFileSync(firmwarePath('host/kernel_check'), { input: script + '\n' }).toString().trim().split('\n').map((l) => l.trim());
  const dev = new EmulatorDevice({ flavour: 'scalar' });
  await dev.configure(config);
  const val = (c: number[], fr: number) => Float64Array.from(c, (x) => x * 2 ** -fr);
  await dev.writeParams({ w: val(w, f.weight.frac), r: val(rr, f.weight.frac), v: val(v, f.weight.frac), ...(bias ? { b: val(bb, f.pre.frac), c: val(bc, f.output.frac) } : {}) });
  const lsb = learner.trace === 'none' ? undefined : traceLsb(traceFormats(H, config.noise.hiddenSigma * 2 ** f.pre.frac, learner.decay, f.input, f.activity), f.pre, f.input, f.activity);
  if (lsb && traceStart !== 0) {
    const real = (x: number[], l: number) => Float64Array.from(x, (y) => y * l);
    await dev.writeState({ clean: new Float64Array(B * H), noisy: new Float64Array(B * H), eligibility: { w: real(ew, lsb.w), r: real(er, lsb.r), ...(bias ? { b: real(eb, lsb.b) } : {}) } });
  }
  const eLines: string[] = [];
  const toCodes = (x: Float64Array, fr: number) => Array.from(x, (y) => Math.round(y * 2 ** fr)).join(' ');
  for (let c = 0; c < chunks; c++) {
    const res = await dev.run({ steps: K, t0: c * K, inputs: val(ins[c], f.input.frac), noisy: true, hiddenTrace: true });
    eLines.push([toCodes(res.clean, f.output.frac), toCodes(res.noisy, f.output.frac), toCodes(res.hidden!, f.activity.frac)].join(' '));
    await dev.reward({ t0: c * K, deltaLoss: Float64Array.from(dls[c]), lr: { w: lr, r: lr, v: lr } });
  }
  const p = await dev.readParams();
  eLines.push(toCodes(p.w, f.weight.frac), toCodes(p.r, f.weight.frac), toCodes(p.v, f.weight.frac));
  if (bias) eLines.push(toCodes(p.b!, f.pre.frac), toCodes(p.c!, f.output.frac));
  if (lsb) {
    // the traces in real units back to their int32 codes (src/format/trace.ts)
    const e = (await dev.readState()).eligibility!;
    const back = (x: Float64Array, l: number) => Array.from(x, (y) => y / l).join(' ');
    eLines.push(back(e.w, lsb.w), back(e.r, lsb.r), ...(bias ? [back(e.b!, lsb.b)] : []));
  }
  return { c: cLines, e: eLines };
}

describe.skipIf(hostMissing !== undefined)('firmware/core = the emulator, bit for bit', () => {
  beforeAll(() => void buildFirmware('host'), 300_000);
  // the SIMD/scalar test's ranges (3..16, 5..16), with 8, 12 and 16 drawn often
  const arbConfig = arbChipConfig({
    wb: fc.oneof(fc.constantFrom(8, 12, 16), fc.integer({ min: 3, max: 16 })),
    ab: fc.oneof(fc.constantFrom(8, 12, 16), fc.integer({ min: 5, max: 16 })),
  });
  it('random configurations: 8, 12, 16 bits (and others), every rounding and overflow, mismatch on and off', async () => {
    const seen = new Set<string>();
    const bits = new Set<number>();
    await fc.assert(
      fc.asyncProperty(arbConfig, async (c) => {
        const config = chipConfigOf(c);
        seen.add(`${c.wb}/${c.rounding}/${c.forward}/${c.overflow}/${c.mismatch}`);
        bits.add(c.wb);
        const { c: cl, e } = await bothTraces(config, 4, 5, c.seed);
        expect(cl).toEqual(e);
      }),
      { numRuns: 80, seed: 8 },
    );
    expect(seen.size).toBeGreaterThan(30);
    for (const b of [8, 12, 16]) expect(bits.has(b)).toBe(true);
  }, 120_000);
  it('eligibility traces (activity and innovation, with and without biases, decays 0..0.999, dL from 1e-9 to 30, traces starting at 0 or near +-2^31): outputs, hidden traces, weights, biases and the int32 traces equal', async () => {
    const seen = new Set<string>();
    let traced = 0;
    const arbTraced = fc.record({
      c: arbConfig,
      trace: fc.constantFrom('activity' as const, 'innovation' as const),
      decay: fc.oneof(fc.constantFrom(0, 0.5, 0.9, 0.99, 0.99999), fc.double({ min: 0, max: 0.999, noNaN: true })),
      bias: fc.boolean(),
      // dL's scale: the usual, large (sat16, mu past 2^15, saturated traces) and tiny (sf at 30, mu = 0)
      dl: fc.constantFrom(1e-3, 1e-3, 30, 1e-9),
      // the traces' first codes: zero, or a third of them near +-2^31 (the decayed sum saturates)
      start: fc.constantFrom(0, 0, 2 ** 20, 2 ** 30),
    });
    await fc.assert(
      fc.asyncProperty(arbTraced, async ({ c, trace, decay, bias, dl, start }) => {
        const base = chipConfigOf(c);
        const config: DeviceConfig = { ...base, topology: { ...base.topology, bias }, learner: { trace, decay } };
        seen.add(`${trace}/${bias}/${c.rounding}`);
        const { c: cl, e } = await bothTraces(config, 4, 5, c.seed, dl, start);
        expect(cl).toEqual(e);
        // the traces' lines are the last 2 (3 with biases): count the runs whose traces are not all zero
        if (e.slice(bias ? -3 : -2).some((l) => l.split(' ').some((x) => x !== '0'))) traced++;
      }),
      { numRuns: 120, seed: 11 },
    );
    expect(seen.size).toBeGreaterThan(8);
    expect(traced).toBeGreaterThan(90);
  }, 180_000);
});

const TMP = mkdtempSync(join(tmpdir(), 'anpt-firmware-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: { write: (s: string) => (err += s), isTTY: false } });
  return { code, out, err };
}
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const TASK = ['--task', 'mackey-glass', '--hidden', '32', '--batch', '4', '--steps', '200', '--epochs', '2'];

for (const target of ['host', 'qemu'] as const) {
  const missing = target === 'host' ? hostMissing : qemuMissing;
  describe.skipIf(missing !== undefined)(`the C firmware (${target === 'host' ? 'Linux process' : 'Cortex-M4 in QEMU mps2-an386'}) on a pseudo-terminal`, () => {
    let fw: RunningFirmware;
    beforeAll(async () => {
      buildFirmware(target === 'host' ? 'host' : 'mps2');
      fw = await spawnCFirmware(target);
    }, 300_000);
    afterAll(async () => fw?.stop());

    it('every golden vector over the wire', async () => {
      const dev = await SerialDevice.open(fw.url(), { timeoutMs: 5000 });
      try {
        // with the golden vectors with biases (test/golden/bias: Limits.bias, the bias tensors)
        // and with traces (test/golden/trace: Limits.traces, Configure.learner, the trace tensors)
        const inDir = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => `${dir}/${f}`);
        const files = [...inDir('test/golden'), ...inDir('test/golden/bias'), ...inDir('test/golden/trace')];
        expect(files.length).toBeGreaterThanOrEqual(8);
        expect(dev.hello.limits?.bias).toBe(true);
        expect(dev.hello.limits?.traces).toBe(true);
        for (const file of files) {
          const v = JSON.parse(readFileSync(file, 'utf8')) as GoldenVector;
          expect(await runGolden(dev, v), file).toEqual(v.expected);
        }
      } finally {
        await dev.close();
      }
    }, 120_000);

    it('biases: b and c read back as written; without Topology.bias the bias tensors are BAD_REQUEST and nothing changes', async () => {
      const dev = await SerialDevice.open(fw.url(), { timeoutMs: 5000 });
      try {
        const shape = { inputs: 2, hidden: 8, outputs: 2, activation: 'tanh' as const };
        const cfg = (bias: boolean): DeviceConfig => ({
          topology: { ...shape, batch: 2, bias }, formats: defaultChipFormats(), noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 3, maxChunkSteps: 10,
        });
        await dev.configure(cfg(true));
        // values on the default formats' grids, so they read back exactly
        const b = Float64Array.from({ length: 8 }, (_, i) => (i - 3) / 8), c = Float64Array.of(0.75, -0.25);
        await dev.writeParams({ ...xavierNormal(shape, 1), b, c });
        const back = await dev.readParams();
        expect([back.b, back.c]).toEqual([b, c]);
        await dev.configure(cfg(false));
        await dev.writeParams(xavierNormal(shape, 2));
        const before = await dev.readParams();
        expect(before.b).toBeUndefined();
        for (const tensor of [pb.Tensor.BIAS_HIDDEN, pb.Tensor.BIAS_OUTPUT]) {
          const t = await dev.rpc.call('readParams', { tensor, offset: 0, count: 2 });
          expect(t).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.BAD_REQUEST, field: 'read_params.tensor' } });
          const w = await dev.rpc.call('writeParams', { tensor, offset: 0, codes: new Int32Array([1, 2]) });
          expect(w).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.BAD_REQUEST, field: 'write_params.tensor' } });
        }
        expect(await dev.readParams()).toEqual(before);
      } finally {
        await dev.close();
      }
    }, 60_000);

    it('traces: Limits.traces, Configure.learner, the int32 trace tensors read back as written, zeroed by ResetState and Configure; BAD_REQUEST without the trace, nothing changes; the RAM check counts them', async () => {
      const dev = await SerialDevice.open(fw.url(), { timeoutMs: 5000 });
      try {
        expect(dev.hello.limits?.traces).toBe(true);
        const call = async <C extends keyof pb.Calls>(c: C, body: pb.Calls[C][0]) => {
          const r = await dev.rpc.call(c, body);
          if (r.status !== 'OK') throw new Error(`${c}: ${JSON.stringify(r)}`);
          return r.value;
        };
        const H = 8, I = 2;
        const wire = (bias: boolean, trace: number, decay = 0.9, hidden = H): pb.Configure => ({
          ...configToWire({
            topology: { inputs: I, hidden, outputs: 2, activation: 'tanh', batch: 2, bias }, formats: defaultChipFormats(),
            noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 3, maxChunkSteps: 1,
          }),
          learner: { trace, decay },
        });
        const read = async (tensor: pb.Tensor) => Array.from((await call('readParams', { tensor, offset: 0, count: 1000 })).codes);
        const big = (n: number, k: number) => Int32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 2 ** 31 - 1 - i : i % 3 === 1 ? -(2 ** 31) + i : (i - k) * 65537));
        for (const trace of [1, 2]) {
          await call('configure', wire(true, trace));
          expect((await call('readConfig', {})).config?.learner).toEqual({ trace, decay: 0.9 });
          const tensors = [[pb.Tensor.TRACE_W, H * I], [pb.Tensor.TRACE_R, H * H], [pb.Tensor.TRACE_BIAS, H]] as const;
          for (const [t, n] of tensors) {
            expect(await read(t)).toEqual(new Array(n).fill(0));
            await call('writeParams', { tensor: t, offset: 0, codes: big(n, t) });
            await call('writeParams', { tensor: t, offset: n - 1, codes: Int32Array.of(-5) });
            expect(await read(t)).toEqual([...Array.from(big(n, t)).slice(0, n - 1), -5]);
          }
          await call('resetState', {});
          for (const [t, n] of tensors) expect(await read(t)).toEqual(new Array(n).fill(0));
          await call('writeParams', { tensor: pb.Tensor.TRACE_R, offset: 0, codes: big(H * H, 0) });
          await call('configure', wire(true, trace));
          expect(await read(pb.Tensor.TRACE_R)).toEqual(new Array(H * H).fill(0));
        }
        // without Topology.bias: no bias trace; without a trace: none of them; refused calls change nothing
        for (const [bias, trace, refused] of [[false, 1, [pb.Tensor.TRACE_BIAS]], [true, 0, [pb.Tensor.TRACE_W, pb.Tensor.TRACE_R, pb.Tensor.TRACE_BIAS]]] as const) {
          await call('configure', wire(bias, trace));
          await call('writeParams', { tensor: pb.Tensor.W, offset: 0, codes: Int32Array.from({ length: H * I }, (_, i) => i - 7) });
          if (trace) await call('writeParams', { tensor: pb.Tensor.TRACE_W, offset: 0, codes: big(H * I, 1) });
          const before = [await read(pb.Tensor.W), trace ? await read(pb.Tensor.TRACE_W) : []];
          for (const tensor of refused) {
            const t = await dev.rpc.call('readParams', { tensor, offset: 0, count: 2 });
            expect(t).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.BAD_REQUEST, field: 'read_params.tensor' } });
            const w = await dev.rpc.call('writeParams', { tensor, offset: 0, codes: new Int32Array([1, 2]) });
            expect(w).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.BAD_REQUEST, field: 'write_params.tensor' } });
          }
          if (trace) {
            const w = await dev.rpc.call('writeParams', { tensor: pb.Tensor.TRACE_W, offset: H * I - 1, codes: new Int32Array([1, 2]) });
            expect(w).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.BAD_REQUEST, field: 'write_params.offset' } });
          }
          expect([await read(pb.Tensor.W), trace ? await read(pb.Tensor.TRACE_W) : []]).toEqual(before);
        }
        // (a trace kind the host cannot encode, 3 and up, is configure.learner.trace: firmware/link/device.c)
        for (const [learner, field] of [[{ trace: 1, decay: 1 }, 'configure.learner.decay'], [{ trace: 1, decay: -0.1 }, 'configure.learner.decay'], [{ trace: 2, decay: NaN }, 'configure.learner.decay']] as const) {
          const r = await dev.rpc.call('configure', { ...wire(false, 1), learner });
          expect(r).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.CONFIG_OUT_OF_RANGE, field } });
        }
        // RAM: a network that fits the Cortex-M4's 192 KiB without a trace, not with one (4 H (I + H) bytes more)
        if (target === 'qemu') {
          await call('configure', wire(false, 0, 0.9, 200));
          const r = await dev.rpc.call('configure', wire(false, 1, 0.9, 200));
          expect(r).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.CONFIG_OUT_OF_RANGE, field: 'configure.topology.hidden' } });
          expect(r.status === 'DEVICE_ERROR' && r.error.message).toMatch(/or use no trace/);
        }
      } finally {
        await dev.close();
      }
    }, 120_000);

    // with the eligibility traces too: the board's int32 traces and traced update
    for (const extra of [[], ['--bias'], ['--trace', 'activity', '--bias'], ['--trace', 'innovation', '--trace-decay', '0.8']]) {
      const tag = `${target}${extra.join('')}`;
      const bias = extra.includes('--bias');
      it(`anpt train --port (default flags${extra.length ? ` and ${extra.join(' ')}` : ''}): Mackey-Glass ANP-T H=32 B=4, 2 epochs, the emulator's outputs and weights bit for bit`, async () => {
        const board = await cli('train', ...TASK, ...extra, '--port', fw.path, '--out', join(TMP, `${tag}-board`));
        expect(board.code, board.err).toBe(0);
        const emu = await cli('train', ...TASK, ...extra, '--backend', 'emulator', '--out', join(TMP, `${tag}-emu`));
        expect(emu.code, emu.err).toBe(0);
        const b = readJson(join(TMP, `${tag}-board`, 'summary.json'));
        const e = readJson(join(TMP, `${tag}-emu`, 'summary.json'));
        expect(b.backend).toBe('device');
        expect(b.final_test_loss).toBe(e.final_test_loss);
        expect(b.final_train_loss ?? b.final_loss).toBe(e.final_train_loss ?? e.final_loss);
        const bw = readJson(join(TMP, `${tag}-board`, 'weights.json'));
        const ew = readJson(join(TMP, `${tag}-emu`, 'weights.json'));
        expect(bw.W).toEqual(ew.W);
        expect(bw.R).toEqual(ew.R);
        expect(bw.V).toEqual(ew.V);
        // the biases, learnt on the board (absent without --bias)
        expect(bw.b).toEqual(ew.b);
        expect(bw.c).toEqual(ew.c);
        if (bias) expect(bw.b.some((x: number) => x !== 0) && bw.c.some((x: number) => x !== 0)).toBe(true);
        else expect(bw.b).toBeUndefined();
        // every column but the wall-clock seconds
        const losses = (dir: string) => readFileSync(join(TMP, dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').filter((_, i) => i !== 3).join(','));
        expect(losses(`${tag}-board`)).toEqual(losses(`${tag}-emu`));
        expect(losses(`${tag}-board`).length).toBe(4); // header, epoch 0 (untrained), 1, 2
      }, 300_000);
    }
  });
}
