#!/usr/bin/env node
/**
 * anpt-firmware-qemu: run the C firmware on a pseudo-terminal and print its path.
 *
 *   anpt-firmware-qemu           the Cortex-M4 build in QEMU (-M mps2-an386)
 *   anpt-firmware-qemu --host    the host build (a Linux process)
 *
 * The first line on stdout is the device path (/dev/pts/N): open it with
 * `anpt train --port /dev/pts/N` or `anpt device info serial:///dev/pts/N`. Ctrl-C or
 * SIGTERM stops the firmware cleanly. Build it first: npm run build:firmware.
 */
import { spawnCFirmware } from './c-firmware.js';

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--host');
if (unknown.length > 0) {
  console.error(`anpt-firmware-qemu: unknown option ${unknown[0]}; use --host for the host build, nothing for QEMU`);
  process.exit(2);
}
try {
  const fw = await spawnCFirmware(args.includes('--host') ? 'host' : 'qemu');
  console.log(fw.path);
  console.error(`anpt-firmware-qemu: ${fw.target === 'qemu' ? 'Cortex-M4 (QEMU mps2-an386)' : 'host build'} on ${fw.path}; Ctrl-C stops it`);
  const stop = () => void fw.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  fw.child.once('exit', (code) => {
    console.error(`anpt-firmware-qemu: the firmware exited (${code})`);
    process.exit(code ?? 1);
  });
} catch (e) {
  console.error(`anpt-firmware-qemu: ${(e as Error).message}`);
  process.exit(1);
}
