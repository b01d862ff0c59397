/**
 * The conformance suites, unchanged, against the C firmware (firmware/) on a real
 * pseudo-terminal opened with serialport: the host build as a Linux process and the
 * Cortex-M4 build in QEMU (-M mps2-an386). suite.ts drives it through SerialDevice;
 * wire.ts sends raw protocol 2 requests below the host's own checks, so the firmware's
 * checks answer. A fresh firmware per suite, stopped in afterAll. Without the
 * toolchain (off CI) it skips naming the Debian package.
 */
import { spawnCFirmware, type CFirmwareTarget } from '../../firmware-sim/c-firmware.js';
import { SerialDevice } from '../../src/link/serial-device.js';
import { openSerial } from '../../src/link/transport-serial.js';
import { buildFirmware, missingTools } from '../firmware-tools.js';
import { describeConformance, type OpenedDevice } from './suite.js';
import { describeWireConformance, type OpenedTransport } from './wire.js';

async function cFirmware(target: CFirmwareTarget): Promise<OpenedDevice> {
  buildFirmware(target === 'host' ? 'host' : 'mps2');
  const fw = await spawnCFirmware(target);
  try {
    const device = await SerialDevice.open(fw.url(), { timeoutMs: 3000 });
    return { device, close: async () => void (await device.close(), await fw.stop()) };
  } catch (e) {
    await fw.stop();
    throw e;
  }
}

async function cFirmwareWire(target: CFirmwareTarget): Promise<OpenedTransport> {
  buildFirmware(target === 'host' ? 'host' : 'mps2');
  const fw = await spawnCFirmware(target);
  try {
    const transport = await openSerial(fw.path, 115200);
    return { transport, close: async () => void (await transport.close(), await fw.stop()) };
  } catch (e) {
    await fw.stop();
    throw e;
  }
}

const hostMissing = missingTools(['make', 'gcc', 'nanopb_generator.py']);
const qemuMissing = hostMissing ?? missingTools(['arm-none-eabi-gcc', 'qemu-system-arm']);
if (hostMissing) console.warn(`test/conformance/firmware.test.ts: skipping the C firmware: ${hostMissing}`);
else {
  describeConformance('the C firmware, host build, on a pseudo-terminal (serialport)', () => cFirmware('host'));
  describeWireConformance('the C firmware, host build, on a pseudo-terminal', () => cFirmwareWire('host'));
}
if (qemuMissing) console.warn(`test/conformance/firmware.test.ts: skipping QEMU: ${qemuMissing}`);
else {
  describeConformance('the C firmware, Cortex-M4 in QEMU mps2-an386, on a pseudo-terminal (serialport)', () => cFirmware('qemu'));
  describeWireConformance('the C firmware, Cortex-M4 in QEMU mps2-an386, on a pseudo-terminal', () => cFirmwareWire('qemu'));
}
