/**
 * `anpt ports` and `anpt device info|pull|push <url>`: find a board, read its handshake,
 * and read or write its weights without reflashing it (the work is in src/link/commands.ts).
 */
import type { Command } from 'commander';
import { deviceInfo, describeChipFormats, formatDeviceReport, listPorts, pullParams, weightsPath } from '../link/commands.js';
import { deployLine, deployWeights } from './deploy.js';
import { SerialDevice } from '../link/serial-device.js';
import { positiveInt, uint32 } from './options.js';
import { ACTIVATION } from './defaults.js';
import { addFormatOptions, resolveDeviceUrl, resolveFormats, type FormatFlags } from './backend.js';
import { toJson } from './output.js';
import type { CliIo } from './io.js';
import { addLinkOptions, resolveLinkSettings, type LinkFlags as BoardLinkFlags } from './link-options.js';

interface LinkFlags extends FormatFlags, BoardLinkFlags {
  json?: boolean;
  baud?: string;
}

/** A positional URL, or a serial port path with --baud, as a link URL. */
function urlOf(target: string, f: LinkFlags): string {
  return /^[a-z]+:\/\//i.test(target) ? resolveDeviceUrl({ device: target, baud: undefined })! : resolveDeviceUrl({ port: target, baud: f.baud })!;
}

/** Add `anpt ports` and `anpt device ...` to the program. Errors throw to the program's handler. */
export function registerDeviceCommands(program: Command, io: CliIo): void {
  program
    .command('ports')
    .description('list the serial ports of this machine (to find a board)')
    .option('--json', 'print the list as JSON')
    .action(async (f: { json?: boolean }) => {
      const list = await listPorts();
      if (f.json) return io.out(toJson(list) + '\n');
      if (list.note) io.err(`anpt: note: ${list.note}\n`);
      if (list.ports.length === 0) io.out('no serial ports found\n');
      for (const p of list.ports) io.out(`${p.path}${p.manufacturer ? `  ${p.manufacturer}` : ''}${p.serialNumber ? `  serial ${p.serialNumber}` : ''}\n`);
    });

  const device = program.command('device').description('talk to a board (or firmware-sim): info, pull and push weights');
  addLinkOptions(device
    .command('info <url>')
    .description('print the handshake reply: protocol, firmware, device id, boot counter, limits, link health (url: tcp://host:port, serial:///dev/ttyACM0?baud=115200, or a port path)')
    .option('--baud <n>', 'with a port path: baud rate (default 115200)')
    .option('--json', 'print the report as JSON'))
    .action(async (target: string, f: LinkFlags) => {
      const r = await deviceInfo(urlOf(target, f), resolveLinkSettings(f, 'device info'));
      if (f.json) io.out(toJson(r) + '\n');
      else for (const line of formatDeviceReport(r)) io.out(line + '\n');
    });
  addFormatOptions(
    addLinkOptions(device
      .command('pull <url> <weights>')
      .description("read W, R, V from the configured board and write them to a weights file (or DIR/weights.json); the formats are the board's, or those of the format flags")
      .option('--baud <n>', 'with a port path: baud rate (default 115200)')
      .option('--json', 'print the result as JSON')),
    'pull',
  ).action(async (target: string, file: string, f: LinkFlags) => {
    const given = f.weightBits !== undefined || f.activityBits !== undefined || f.rounding !== undefined || f.overflow !== undefined;
    const formats = given ? resolveFormats('device', f) : undefined;
    const r = await pullParams(urlOf(target, f), file, { ...resolveLinkSettings(f, 'device pull'), formats });
    if (f.json) return io.out(toJson(r) + '\n');
    io.out(`wrote ${r.file}: ${r.values} values, inputs ${r.topology.inputs}, hidden ${r.topology.hidden}, outputs ${r.topology.outputs}\n`);
    if (r.formatsAssumed) io.err(`anpt: note: the board cannot report its formats; assumed ${describeChipFormats(r.formats)} (give --weight-bits etc. if it was configured otherwise)\n`);
  });
  addFormatOptions(addLinkOptions(device
    .command('configure <url>')
    .description('configure a board for a network without weights (the bare case; push configures from a weights file): topology, formats, seed')
    .requiredOption('--inputs <n>', 'inputs')
    .requiredOption('--hidden <n>', 'hidden neurons')
    .requiredOption('--outputs <n>', 'outputs')
    .option('--batch <n>', 'sequences run side by side (default 1)')
    .option('--seed <n>', 'noise seed (default 0)')
    .option('--baud <n>', 'with a port path: baud rate (default 115200)')))
    .action(async (target: string, f: LinkFlags & { inputs: string; hidden: string; outputs: string; batch?: string; seed?: string }) => {
      const url = urlOf(target, f);
      const topology = { inputs: positiveInt('--inputs', f.inputs, 1), hidden: positiveInt('--hidden', f.hidden, 1), outputs: positiveInt('--outputs', f.outputs, 1), batch: positiveInt('--batch', f.batch, 1), activation: ACTIVATION };
      const dev = await SerialDevice.open(url, resolveLinkSettings(f, 'device configure'));
      try {
        const formats = resolveFormats('device', f)!; // (defined on a fixed-point backend)
        const fit = dev.chunkLimit(topology, formats);
        await dev.configure({ topology, formats, noise: { hiddenSigma: 0, outputSigma: 0 }, seed: uint32('--seed', f.seed, 0), maxChunkSteps: Math.max(1, Math.min(fit, 1000)) });
      } finally {
        await dev.close();
      }
      io.out(`configured ${url}: inputs ${topology.inputs}, hidden ${topology.hidden}, outputs ${topology.outputs}, batch ${topology.batch}\n`);
    });
  addFormatOptions(addLinkOptions(device
    .command('push <url> <weights>')
    .description("deploy a weights file (anpt train --out DIR, or pull) to a board: configure it from the file (topology, formats, seed), write W, R, V, read them back, and print the run's test MSE before and on the board; a float run is quantised to the format flags (default 16 bits)")
    .option('--baud <n>', 'with a port path: baud rate (default 115200)')
    .option('--json', 'print the result as JSON')))
    .action(async (target: string, file: string, f: LinkFlags) => {
      const r = await deployWeights(urlOf(target, f), weightsPath(file), f, resolveLinkSettings(f, 'device push'));
      if (f.json) return io.out(toJson(r) + '\n');
      io.out(deployLine(r));
    });
}
