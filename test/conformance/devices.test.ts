/**
 * The conformance suite (suite.ts) against every Device of this repository: the
 * in-process emulator, the float model, the device service over an in-memory link
 * (SerialDevice -> frames -> DeviceServer -> EmulatorDevice), the resilient device on
 * that link, and firmware-sim (a separate process) over TCP and over a real
 * pseudo-terminal opened with serialport.
 *
 * The wire half (wire.ts: raw requests, below the host's own checks) runs against the
 * device service and firmware-sim over TCP.
 *
 * The simulator children are paced at 4 Mbaud so the suite takes seconds; each is
 * stopped in afterAll. The pseudo-terminal case needs socat (.ci/run installs it) and
 * fails, not skips, without it.
 */
import { spawnSync } from 'node:child_process';
import { spawnFirmwareSim } from '../../firmware-sim/spawn.js';
import { EmulatorDevice } from '../../src/device/emulator.js';
import { createDeviceServer } from '../../src/link/device-server.js';
import { ResilientDevice } from '../../src/link/resilient-device.js';
import { SerialDevice } from '../../src/link/serial-device.js';
import { memoryPair } from '../../src/link/transport-memory.js';
import { FloatDevice } from '../../src/model/float-device.js';
import { connectTcp } from '../../src/link/transport-tcp.js';
import { describeConformance, type OpenedDevice } from './suite.js';
import { describeWireConformance } from './wire.js';

const BAUD = 4_000_000;

function requireSocat(): void {
  const r = spawnSync('socat', ['-V'], { stdio: 'ignore' });
  if (r.error) throw new Error('socat is not installed, and the pseudo-terminal case needs it: apt-get install -y socat (.ci/run does this on a fresh machine)');
}

/** A fresh firmware-sim child (so the board is unconfigured) and a SerialDevice on it. */
async function simDevice(mode: string[]): Promise<OpenedDevice> {
  const sim = await spawnFirmwareSim([...mode, '--baud', String(BAUD), '--quiet']);
  try {
    const device = await SerialDevice.open(sim.url(BAUD), { timeoutMs: 1000 });
    return { device, close: async () => void (await device.close(), await sim.stop()) };
  } catch (e) {
    await sim.stop();
    throw e;
  }
}

/** SerialDevice over an in-memory pipe to the device service serving an EmulatorDevice. */
async function servedEmulator(): Promise<{ device: SerialDevice; close(): Promise<void> }> {
  const { a, b } = memoryPair();
  const { server } = createDeviceServer(new EmulatorDevice());
  void server.serve(b);
  const device = await SerialDevice.connect(a, { timeoutMs: 1000 });
  return { device, close: () => device.close() };
}

describeConformance('in-process EmulatorDevice', async () => ({ device: new EmulatorDevice(), close: async () => {} }));
describeConformance('in-process EmulatorDevice on two threads', async () => {
  const device = new EmulatorDevice({ threads: 2 });
  return { device, close: () => device.close() };
});
describeConformance('in-process FloatDevice', async () => ({ device: new FloatDevice(), close: async () => {} }), { bitExact: false });
describeConformance('device service over an in-memory link', servedEmulator);
describeConformance('ResilientDevice over an in-memory link', async () => {
  const served = await servedEmulator();
  const device = new ResilientDevice(served.device);
  return { device, close: () => device.close() };
});
describeConformance(`firmware-sim over TCP (paced at ${BAUD} baud)`, () => simDevice(['--tcp', '0']));
describeConformance(`firmware-sim over a pseudo-terminal (serialport, ${BAUD} baud)`, () => {
  requireSocat();
  return simDevice(['--pty']);
});

describeWireConformance('device service over an in-memory link', async () => {
  const { a, b } = memoryPair();
  const { server } = createDeviceServer(new EmulatorDevice());
  void server.serve(b);
  return { transport: a, close: () => a.close() };
});
describeWireConformance('firmware-sim over TCP', async () => {
  const sim = await spawnFirmwareSim(['--tcp', '0', '--baud', String(BAUD), '--quiet']);
  const port = Number(/:(\d+)$/.exec(sim.url())![1]);
  const transport = await connectTcp('127.0.0.1', port);
  return { transport, close: async () => void (await transport.close(), await sim.stop()) };
});
