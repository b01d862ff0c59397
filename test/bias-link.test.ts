/**
 * Biases over the link (issue 11; docs/protocol.md): Limits.bias, Topology.bias and the
 * bias tensors. firmware-sim serves them bit for bit; a board that does not announce
 * them (bias: false) is refused by the host before anything is
 * sent, and refuses a raw Topology.bias itself, changing nothing either way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { SimBoard } from '../firmware-sim/board.js';
import { defaultChipFormats } from '../src/device/config.js';
import { runGolden, type GoldenVector } from '../src/device/golden.js';
import type { DeviceConfig } from '../src/device/types.js';
import { ConfigError } from '../src/format/fixed.js';
import { configToWire } from '../src/link/codes.js';
import * as pb from '../src/link/messages.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { memoryPair } from '../src/link/transport-memory.js';
import { withZeroBiases, xavierNormal } from '../src/model/rnn.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function link(board: SimBoard): Promise<SerialDevice> {
  const { a, b } = memoryPair();
  board.attach(b);
  const dev = await SerialDevice.connect(a, { helloTimeoutMs: 500, retries: 1, timeoutMs: 2000 });
  closers.push(() => dev.close());
  return dev;
}

const shape = { inputs: 2, hidden: 8, outputs: 2, activation: 'tanh' as const };
const cfg = (bias: boolean): DeviceConfig => ({
  topology: { ...shape, batch: 2, bias }, formats: defaultChipFormats(), noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 3, maxChunkSteps: 10,
});

describe('biases over the link', () => {
  for (const file of readdirSync('test/golden/bias').filter((f) => f.endsWith('.json')))
    it(`golden vector ${file} over the link to firmware-sim, bit for bit`, async () => {
      const v = JSON.parse(readFileSync(`test/golden/bias/${file}`, 'utf8')) as GoldenVector;
      expect(await runGolden(await link(new SimBoard()), v)).toEqual(v.expected);
    });

  it('firmware-sim announces Limits.bias; parameters with b and c read back as written', async () => {
    const dev = await link(new SimBoard());
    expect(dev.hello.limits?.bias).toBe(true);
    await dev.configure(cfg(true));
    const p = withZeroBiases(xavierNormal(shape, 1), 8, 2);
    p.b![3] = 0.5;
    p.c![1] = -0.25;
    await dev.writeParams(p);
    const q = await dev.readParams();
    expect(q.b).toEqual(p.b);
    expect(q.c).toEqual(p.c);
  });

  it('a board without biases: the host refuses topology.bias with a ConfigError, nothing sent, nothing changed', async () => {
    const dev = await link(new SimBoard({ bias: false }));
    expect(dev.hello.limits?.bias).toBe(false);
    await dev.configure(cfg(false));
    const p = xavierNormal(shape, 1);
    await dev.writeParams(p);
    const before = await dev.readParams();
    const err = await dev.configure(cfg(true)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe('topology.bias');
    expect(await dev.readParams()).toEqual(before); // still configured as before, weights kept
    // sent anyway (an old host, a raw call): the board refuses it, and nothing changes
    const r = await dev.rpc.call('configure', configToWire(cfg(true)));
    expect(r).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.CONFIG_OUT_OF_RANGE, field: 'configure.topology.bias' } });
    expect(await dev.readParams()).toEqual(before);
    // and the bias tensors do not exist on a board configured without biases
    const t = await dev.rpc.call('readParams', { tensor: pb.Tensor.BIAS_HIDDEN, offset: 0, count: 8 });
    expect(t).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.BAD_REQUEST, field: 'read_params.tensor' } });
  });
});
