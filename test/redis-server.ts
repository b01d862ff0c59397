/**
 * A real redis-server for the queue tests: 127.0.0.1 on a free port, its own temp
 * directory, append-only file on (so a restart keeps everything). In CI (CI=true) a
 * missing redis-server is an error; elsewhere the tests skip and say what to install.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why the queue tests cannot run here (undefined: they can). Throws in CI. */
export function redisMissing(): string | undefined {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.status === 0) return undefined;
  const why = 'redis-server not found: install the Debian package redis-server (apt-get install redis-server) to run the job-queue tests';
  if (process.env.CI) throw new Error(`${why} (CI must run them; .ci/run installs it)`);
  return why;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningRedis {
  url: string;
  port: number;
  /** Graceful restart (SHUTDOWN writes the append-only file), same port and directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** TLS material: server certificate and key, and the CA clients trust (PEM files). */
export interface RedisTls {
  cert: string;
  key: string;
  ca: string;
}

export async function startRedis(extra: string[] = [], tls?: RedisTls): Promise<RunningRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'anpt-redis-'));
  const port = await freePort();
  // with TLS the plain port is off and the free port speaks TLS only
  const listen = tls ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no'] : ['--port', String(port)];
  let child: ChildProcess;
  const launch = () => new Promise<void>((resolve, reject) => {
    child = spawn('redis-server', [...listen, '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}): ${out}`));
    });
  });
  const halt = () => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  await launch();
  return {
    url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}/0`,
    port,
    restart: async () => {
      await halt();
      await launch();
    },
    stop: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
