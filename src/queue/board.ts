/**
 * A board for a queue worker, opened the way `anpt train --device` opens one
 * (a ResilientDevice over SerialDevice, as src/cli/backend.ts openBoard). A sweep row asks
 * for evaluation chunks of up to 1000 steps; over a link a run and its reply must fit
 * one frame and the board's RAM bounds the chunk, so configure() here lowers
 * maxChunkSteps to what the board takes (clean evaluation gives the same bits in any
 * chunk size). The rows' own training chunks are checked against the board before a
 * worker takes them (classes.ts boardRefuses).
 */
import { ResilientDevice } from '../link/resilient-device.js';
import type { Device, DeviceConfig } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import type { Limits } from '../link/messages.js';
import { SerialDevice } from '../link/serial-device.js';

/** What a board announces: its Hello limits and the frame size both ends accept. */
export interface BoardInfo {
  name: string;
  deviceId: string;
  limits: Limits;
  frameBytes: number;
}

/** Open the board, read what it announces, close it again (the worker's thread opens it for the rows). */
export async function probeBoard(url: string): Promise<BoardInfo> {
  const dev = await ResilientDevice.open(url, {});
  try {
    const link = dev.device;
    if (!(link instanceof SerialDevice) || !link.hello.limits) throw new Error(`${url}: the board announced no limits in its Hello reply; it cannot take sweep rows`);
    return { name: (await dev.info()).name, deviceId: link.hello.deviceId, limits: link.hello.limits, frameBytes: link.frameLimit };
  } finally {
    await dev.close().catch(() => undefined);
  }
}

/** The board as a Device whose configure() fits maxChunkSteps to the link and the RAM. */
export async function openFittedBoard(url: string): Promise<Device> {
  const dev = await ResilientDevice.open(url, {});
  const configure = async (config: DeviceConfig): Promise<void> => {
    const link = dev.device;
    let k = config.maxChunkSteps;
    if (link instanceof SerialDevice && config.formats) k = Math.max(1, Math.min(k, link.chunkLimit(config.topology, config.formats)));
    for (;;) {
      try {
        return await dev.configure({ ...config, maxChunkSteps: k });
      } catch (err) {
        // RAM refusal: halve the evaluation chunk (as anpt train does)
        if (!(err instanceof ConfigError) || !/maxChunkSteps|max_chunk_steps/.test(err.field) || k <= 1) throw err;
        k = Math.max(1, Math.floor(k / 2));
      }
    }
  };
  return new Proxy(dev, { get: (target, prop, receiver) => (prop === 'configure' ? configure : Reflect.get(target, prop, receiver)) }) as Device;
}
