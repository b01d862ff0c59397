/**
 * The host-side commands (src/link/commands.ts) against a simulated board served on
 * TCP loopback in this process: ports, device info, pulling and pushing parameters.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimBoard } from '../firmware-sim/board.js';
import { readWeights } from '../src/cli/weights-file.js';
import { defaultChipFormats } from '../src/device/config.js';
import type { DeviceConfig } from '../src/device/types.js';
import { deviceInfo, formatDeviceReport, listPorts, pullParams, pushParams } from '../src/link/commands.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { listenTcp, type TcpListener } from '../src/link/transport-tcp.js';
import { xavierNormal } from '../src/model/rnn.js';

let listener: TcpListener;
let url: string;
let dir: string;
const config: DeviceConfig = {
  topology: { inputs: 2, hidden: 12, outputs: 3, batch: 2, activation: 'tanh' },
  formats: defaultChipFormats({ weightBits: 8 }),
  noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
  seed: 4,
  maxChunkSteps: 16,
};
beforeAll(async () => {
  const board = new SimBoard({ deviceId: 'bench-board-1' });
  listener = await listenTcp(0, (t) => board.attach(t));
  url = `tcp://127.0.0.1:${listener.port}`;
  dir = mkdtempSync(join(tmpdir(), 'anpt-commands-'));
});
afterAll(async () => {
  await listener.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('anpt ports', () => {
  it('lists what serialport finds', async () => {
    const r = await listPorts({ list: async () => [{ path: '/dev/ttyACM0', manufacturer: 'Raspberry Pi', vendorId: '2e8a' }] });
    expect(r).toEqual({ ports: [{ path: '/dev/ttyACM0', manufacturer: 'Raspberry Pi', vendorId: '2e8a', productId: undefined, serialNumber: undefined }] });
  });

  it('falls back to scanning /dev when serialport cannot list (no udevadm), and says so', async () => {
    const dev = mkdtempSync(join(tmpdir(), 'anpt-dev-'));
    for (const n of ['ttyUSB1', 'ttyS10', 'ttyACM0', 'ttyS2', 'tty0', 'ttyUSB0', 'null']) writeFileSync(join(dev, n), '');
    const r = await listPorts({ devDir: dev, list: () => Promise.reject(new Error('spawn udevadm ENOENT')) });
    rmSync(dev, { recursive: true });
    expect(r.ports.map((p) => p.path.slice(dev.length + 1))).toEqual(['ttyACM0', 'ttyS2', 'ttyS10', 'ttyUSB0', 'ttyUSB1']);
    expect(r.note).toBe(`serialport could not list ports (spawn udevadm ENOENT: udevadm is not installed); scanned ${dev}/tty{S,USB,ACM}* instead, without USB details (ttyS* are often on-board ports with nothing attached)`);
  });
});

describe('anpt device info / pull / push', () => {
  it('describes the device: identity, session, limits, round trip and link health', async () => {
    const r = await deviceInfo(url);
    expect(r).toMatchObject({ url, firmwareName: 'anpt-firmware-sim', deviceId: 'bench-board-1', bootCounter: 1, protocolVersion: 2, frameLimit: 16384 });
    expect(r.sessionId).toMatch(/^[0-9a-f]{8}$/);
    expect(r.limits).toMatchObject({ ramBytes: 262144, maxHidden: 243 });
    expect(r.stats.link['device.framesOk']).toBeGreaterThan(0);
    const lines = formatDeviceReport(r);
    expect(lines[0]).toBe(`device      anpt-firmware-sim 0.1.0, id bench-board-1, at ${url}`);
    expect(lines.join('\n')).toMatch(/limits {6}inputs 64, hidden 243, outputs 64, batch 64, chunk 4096 steps; 2\.\.16-bit formats/);
    expect(lines.join('\n')).toMatch(/memory {6}256 KiB RAM; plasticity on the device; noise counter PRNG/);
  });

  it('refuses to pull from a device that holds no configuration, saying what to do', async () => {
    await expect(pullParams(url, join(dir, 'x.json'))).rejects.toThrow(/the device is not configured, so it holds no parameters; configure it first/);
  });

  it('pulls the parameters of a configured device into a weights.json the CLI reads, and pushes them back', async () => {
    const params = xavierNormal({ inputs: 2, hidden: 12, outputs: 3, activation: 'tanh' }, 4);
    const host = await SerialDevice.open(url);
    await host.configure(config);
    await host.writeParams(params);
    const onDevice = await host.readParams();
    await host.close();

    // a later host session, which knows only the formats
    const pulled = await pullParams(url, dir, { formats: config.formats });
    expect(pulled).toMatchObject({ file: join(dir, 'weights.json'), topology: { inputs: 2, hidden: 12, outputs: 3, activation: 'tanh' }, formatsAssumed: false, values: 12 * 2 + 12 * 12 + 3 * 12 });
    const { file, params: read } = readWeights(dir); // the CLI's own reader
    expect(read).toEqual(onDevice);
    expect(file.formats).toEqual(config.formats);
    expect(JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8')).device).toMatchObject({ url, deviceId: 'bench-board-1', bootCounter: 1 });

    // change V in the file and push it: the device holds the new values, exactly
    const json = JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8'));
    json.V = json.V.map((row: number[]) => row.map((v) => -v));
    writeFileSync(join(dir, 'weights.json'), JSON.stringify(json));
    expect(await pushParams(url, dir)).toMatchObject({ values: 204, rounded: 0 });
    const back = await SerialDevice.open(url);
    back.assumeConfig(config);
    expect((await back.readParams()).v).toEqual(onDevice.v.map((v) => 0 - v + 0)); // (codes have no -0)
    await back.close();

    // a file for another topology is refused before anything is written
    json.W = json.W.map((row: number[]) => [...row, 0]);
    json.topology.inputs = 3;
    writeFileSync(join(dir, 'wide.json'), JSON.stringify(json));
    await expect(pushParams(url, join(dir, 'wide.json'))).rejects.toThrow(/the file is for inputs 3, hidden 12, outputs 3 but the device at tcp:\S+ is configured for 2, 12, 3; configure it for the file's topology first/);
    // values that are not codes of the weight format are rounded, and counted
    json.topology.inputs = 2;
    json.W = json.W.map((row: number[]) => row.slice(0, 2).map((v) => v + 1e-5));
    writeFileSync(join(dir, 'off-grid.json'), JSON.stringify(json));
    expect((await pushParams(url, join(dir, 'off-grid.json'))).rounded).toBe(24);
  });

  it('refuses a weights file without chip formats', async () => {
    writeFileSync(join(dir, 'float.json'), JSON.stringify({ format: 'anpt-weights/1', topology: { inputs: 1, hidden: 1, outputs: 1, activation: 'tanh' }, W: [[0]], R: [[0]], V: [[0]] }));
    await expect(pushParams(url, join(dir, 'float.json'))).rejects.toThrow(/float\.json: has no chip formats \(a float-model run\)/);
  });
});
