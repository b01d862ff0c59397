/**
 * A fault relay between a host and a real serial device (the C firmware on its
 * pseudo-terminal, or a board): the host connects to tcp://127.0.0.1:PORT, every byte
 * goes on to the serial port and back through firmware-sim's fault stage (faults.ts),
 * so a real firmware meets the same bad line firmware-sim simulates.
 */
import { faultyTransport, type FaultCounters, type FaultOptions } from './faults.js';
import { openSerial } from '../src/link/transport-serial.js';
import { listenTcp } from '../src/link/transport-tcp.js';
import type { ByteTransport } from '../src/link/transport.js';

export interface FaultRelay {
  url: string;
  faults(): FaultCounters;
  close(): Promise<void>;
}

export async function startFaultRelay(serialPath: string, baud: number, opts: FaultOptions): Promise<FaultRelay> {
  const device = faultyTransport(await openSerial(serialPath, baud), opts);
  let host: ByteTransport | undefined;
  device.onData((bytes) => void host?.write(bytes).catch(() => undefined));
  const listener = await listenTcp(0, (t) => {
    host = t;
    t.onData((bytes) => void device.write(bytes).catch(() => undefined));
    t.onClose(() => {
      if (host === t) host = undefined;
    });
  });
  return {
    url: `tcp://127.0.0.1:${listener.port}`,
    faults: () => device.faults(),
    close: async () => {
      await listener.close();
      await device.close();
    },
  };
}
