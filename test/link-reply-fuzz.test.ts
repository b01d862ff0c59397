// The host validates every reply: a device (or a bridge) that answers with a frame whose
// CRC is right but whose content is malformed — arrays of the wrong length, codes outside
// the format, another tensor, offset or total, another body, another id — is asked again
// (the same id, so the device replays its true cached reply), never believed. 25 % of the
// replies are mutated here, over 40 seeded sessions; every value the host returns must
// equal what an in-process emulator returns for the same calls.
import { describe, expect, it } from 'vitest';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { Device, DeviceConfig, Params } from '../src/device/types.js';
import { seededUniform } from '../firmware-sim/faults.js';
import { decodeResponse, encodeResponse } from '../src/link/codec.js';
import { createDeviceServer } from '../src/link/device-server.js';
import { FrameDecoder, encodeFrame } from '../src/link/frame.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { memoryPair, type FaultHook } from '../src/link/transport-memory.js';

const SESSIONS = 40;
const RATE = 0.25;

/** Mutate the structure of 25 % of the replies (valid frames, valid CRC). */
function mutator(seed: number, counts: { mutated: number }): FaultHook {
  const random = seededUniform(seed);
  const dec = new FrameDecoder(1 << 16);
  return (bytes) => {
    const out: Uint8Array[] = [];
    for (const ev of dec.push(bytes)) {
      if (ev.status !== 'OK') continue;
      const res = decodeResponse(ev.payload);
      if (res.status !== 'OK' || random() >= RATE || res.value.error) {
        out.push(encodeFrame(ev.payload));
        continue;
      }
      const r = structuredClone(res.value) as { id: number; body: { case?: string; value?: Record<string, unknown> } };
      const v = r.body.value ?? {};
      const arrays = Object.keys(v).filter((k) => Array.isArray(v[k]) && (v[k] as unknown[]).length > 0);
      const kind = Math.floor(random() * 5);
      if (kind === 0 && arrays.length) (v[arrays[0]] as number[]).pop(); // one code short
      else if (kind === 1 && arrays.length) (v[arrays[0]] as number[]).push(1); // one too many
      else if (kind === 2 && arrays.length) (v[arrays[0]] as number[])[0] = 70000; // outside any 16-bit format
      else if (kind === 3 && 'offset' in v) v.offset = (v.offset as number) + 1;
      else if (kind === 3 && 'total' in v) v.total = (v.total as number) + 1;
      else if (kind === 4) r.id = (r.id + 1000) >>> 0; // an id nobody asked for (id + 1 could be the next call's: a run reply echoes no t0 to tell them apart)
      else r.body = { case: r.body.case === 'stats' ? 'resetState' : 'stats', value: {} }; // another call's reply
      const enc = encodeResponse(r as never);
      if (enc.status !== 'OK') {
        out.push(encodeFrame(ev.payload));
        continue;
      }
      counts.mutated++;
      out.push(encodeFrame(enc.bytes));
    }
    return out;
  };
}

const config: DeviceConfig = {
  topology: { inputs: 2, hidden: 8, outputs: 2, batch: 2, activation: 'tanh' },
  formats: defaultChipFormats({ weightBits: 16, activityBits: 16 }),
  noise: { hiddenSigma: 0.05, outputSigma: 0.05 },
  seed: 3,
  maxChunkSteps: 20,
};

/** The same calls on a device; everything it returns, as plain arrays. */
async function session(dev: Device): Promise<unknown[]> {
  const seen: unknown[] = [];
  const { inputs: I, hidden: H, outputs: O, batch: B } = config.topology;
  const ramp = (n: number, s: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(i * s) * 0.5);
  await dev.configure(config);
  const p: Params = { w: ramp(H * I, 0.7), r: ramp(H * H, 0.3).map((x) => x * 0.4), v: ramp(O * H, 1.1) };
  await dev.writeParams(p);
  for (let c = 0; c < 4; c++) {
    const run = await dev.run({ steps: 5, t0: c * 5, inputs: ramp(5 * B * I, 0.2 + c), noisy: true });
    seen.push(Array.from(run.clean), Array.from(run.noisy));
    await dev.reward({ t0: c * 5, deltaLoss: Float64Array.of(0.01, -0.02, 0.03, 0, 0.01), lr: { w: 0.1, r: 0.1, v: 0.1 } });
  }
  const clean = await dev.run({ steps: 20, t0: 100, inputs: ramp(20 * B * I, 0.9), noisy: false, hiddenTrace: true });
  seen.push(Array.from(clean.clean), Array.from(clean.hidden ?? []));
  const q = await dev.readParams();
  const st = await dev.readState();
  seen.push(Array.from(q.w), Array.from(q.r), Array.from(q.v), Array.from(st.clean), Array.from(st.noisy));
  return seen;
}

describe('the host validates every reply', () => {
  it(`${SESSIONS} sessions with ${RATE * 100} % of the replies malformed: every value returned is the emulator's`, async () => {
    const want = await session(new EmulatorDevice());
    const counts = { mutated: 0 };
    let invalid = 0;
    let accepted = 0;
    for (let seed = 1; seed <= SESSIONS; seed++) {
      const { a, b } = memoryPair({ bToA: mutator(seed, counts) });
      const { server } = createDeviceServer(new EmulatorDevice(), { deviceId: 'fuzz', cacheSize: 4 });
      void server.serve(b);
      // the Hello itself may be mutated: then open again (a fresh session)
      let dev: SerialDevice | undefined;
      // a Hello's whole budget is 3 x helloTimeoutMs: long enough for a loaded machine (a mutated reply is asked again at once)
      for (let i = 0; !dev && i < 5; i++) dev = await SerialDevice.connect(a, { timeoutMs: 30, helloTimeoutMs: 250 }).catch(() => undefined);
      expect(dev, `seed ${seed}: no Hello got through`).toBeDefined();
      const got = await session(dev!);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        accepted++;
        const i = got.findIndex((g, k) => JSON.stringify(g) !== JSON.stringify(want[k]));
        console.log(`seed ${seed}: value ${i} differs`, JSON.stringify(got[i]).slice(0, 200), JSON.stringify(want[i]).slice(0, 200));
      }
      invalid += dev!.rpc.stats().invalidReplies;
      await dev!.close();
    }
    expect(counts.mutated).toBeGreaterThan(SESSIONS * 5);
    expect(invalid).toBeGreaterThan(0);
    expect(accepted).toBe(0);
  }, 120_000);
});
