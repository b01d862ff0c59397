// firmware-sim under a flood: 10 MiB of damaged frames (and a few requests) at 115200
// baud over TCP. Its transmit queue and request queue are bounded (drops counted in
// stats queue_drops), so its memory stays under 64 MiB above idle, it answers a Hello
// within 2 s after the flood, and it exits within 1 s of SIGTERM.
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawnFirmwareSim } from '../firmware-sim/spawn.js';
import { encodeFrame } from '../src/link/frame.js';
import { SerialDevice } from '../src/link/serial-device.js';

const MIB = 1024 * 1024;
const rssMib = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('firmware-sim under a flood', () => {
  it('10 MiB of damaged frames: < 64 MiB above idle, Hello within 2 s after, exit within 1 s of SIGTERM', async () => {
    const sim = await spawnFirmwareSim(['--tcp', '0', '--baud', '115200', '--quiet'], { timeoutMs: 60_000 });
    const pid = sim.child.pid!;
    await new Promise((ok) => setTimeout(ok, 1000));
    const idle = rssMib(pid);
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMib(pid))), 50);
    const sock = connect(Number(sim.address.split(':').pop()), '127.0.0.1');
    await new Promise((ok) => sock.once('connect', ok));
    sock.on('data', () => {});
    const damaged = encodeFrame(Uint8Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff));
    damaged[50] ^= 0x10; // a flipped bit: the CRC fails, the board NAKs
    const request = encodeFrame(Uint8Array.from([8, 1, 0x1a, 0])); // decodes, answered with an error
    const block = Buffer.concat(Array.from({ length: 256 }, (_, i) => (i % 8 === 0 ? request : damaged)));
    for (let sent = 0; sent < 10 * MIB; sent += block.length) if (!sock.write(block)) await new Promise((ok) => sock.once('drain', ok));
    sock.destroy();
    const t0 = performance.now();
    const dev = await SerialDevice.open(sim.address, { helloTimeoutMs: 2000, retries: 0 });
    const helloMs = performance.now() - t0;
    const stats = await dev.stats();
    await dev.close();
    clearInterval(sampler);
    const t1 = performance.now();
    const exited = new Promise((ok) => sim.child.once('exit', ok));
    sim.child.kill('SIGTERM');
    await exited;
    const exitMs = performance.now() - t1;
    expect(peak - idle, `idle ${idle} MiB, peak ${peak} MiB`).toBeLessThan(64);
    expect(helloMs).toBeLessThan(2000);
    expect(exitMs).toBeLessThan(1000);
    expect(stats.link['device.queueDrops']).toBeGreaterThanOrEqual(0);
  }, 120_000);
});
