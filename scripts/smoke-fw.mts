import { spawnCFirmware } from '../firmware-sim/c-firmware.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { runGolden } from '../src/device/golden.js';
import { readFileSync, readdirSync } from 'node:fs';
const target = process.argv[2] as 'host' | 'qemu';
const fw = await spawnCFirmware(target);
console.log('path', fw.path);
try {
  const dev = await SerialDevice.open(fw.url(4000000), { timeoutMs: 3000 });
  console.log(JSON.stringify(await dev.info()).slice(0, 300));
  for (const f of readdirSync('/work/wt/firmware/test/golden').filter((f) => f.endsWith('.json'))) {
    const v = JSON.parse(readFileSync('/work/wt/firmware/test/golden/' + f, 'utf8'));
    const t = performance.now();
    const got = await runGolden(dev, v);
    console.log(f, JSON.stringify(got) === JSON.stringify(v.expected) ? 'MATCH' : 'DIFF', (performance.now() - t).toFixed(0), 'ms');
  }
  await dev.close();
} catch (e) { console.log('ERR', e); }
await fw.stop();
