/**
 * The Redis connection of a queued sweep or a worker: `redis://[:password@]host:port/db`
 * or `rediss://...` (TLS). The password may also come from ANPT_REDIS_PASSWORD (so it
 * stays out of shell history and of the command recorded in results.json), and a
 * private CA for rediss:// from ANPT_REDIS_CA (a PEM file). ioredis and bullmq are
 * imported here only when a queue is used: a local sweep never loads them.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Redis, RedisOptions } from 'ioredis';
import { UsageError } from '../errors.js';

/** Check a --queue URL; returns it unchanged. */
export function checkQueueUrl(raw: string, flag = '--queue'): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`${flag}: '${redactUrl(raw)}' is not a URL; give redis://host:6379/0 (rediss:// for TLS)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`${flag}: '${u.protocol}' is not redis: or rediss:; give redis://host:6379/0 (rediss:// for TLS)`);
  if (!u.hostname) throw new UsageError(`${flag}: '${redactUrl(raw)}' names no host; e.g. redis://127.0.0.1:6379/0`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new UsageError(`${flag}: '/${db}' is not a database number; e.g. redis://127.0.0.1:6379/0`);
  return raw;
}

/** The text with the password of any URL in it replaced by ***: for logs and recorded commands. */
export function redactUrl(text: string): string {
  return text.replace(/(rediss?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
}

/** ioredis options for a URL (the URL's own fields win; see the file comment). */
export function redisOptions(url: string): RedisOptions {
  const u = new URL(url);
  const opts: RedisOptions = {
    // bullmq needs commands to wait through a reconnect rather than fail
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(200 * times, 2000),
  };
  if (!u.password && process.env.ANPT_REDIS_PASSWORD) opts.password = process.env.ANPT_REDIS_PASSWORD;
  if (u.protocol === 'rediss:') {
    // the certificate is checked against the host name (an IP address: against its IP entries)
    opts.tls = { ...(isIP(u.hostname) ? {} : { servername: u.hostname }), ...(process.env.ANPT_REDIS_CA ? { ca: readFileSync(process.env.ANPT_REDIS_CA) } : {}) };
  }
  return opts;
}

/**
 * A connected client. The first connection must succeed (within 10 s): a wrong host,
 * port or password is a one-line usage error. Later, a lost connection is retried and
 * commands wait for it (a Redis restart is survived).
 */
export async function connectRedis(url: string, name: string, flag = '--queue'): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { ...redisOptions(url), connectionName: name, lazyConnect: true });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    client.once('error', fail); // refused, unknown host, bad certificate, wrong password
    client.once('ready', () => {
      clearTimeout(timer);
      client.off('error', fail);
      client.on('error', () => {}); // from now on: reconnects are retried, commands wait
      resolve();
    });
  });
  client.connect().catch(() => undefined);
  try {
    await ready;
  } catch (err) {
    client.on('error', () => {});
    client.disconnect();
    const tlsHint = url.startsWith('rediss:') ? ', the CA that signed its certificate (ANPT_REDIS_CA=ca.pem)' : '';
    throw new UsageError(`${flag} ${redactUrl(url)}: cannot connect to Redis (${(err as Error).message}); check the host, port, password (ANPT_REDIS_PASSWORD)${tlsHint} and that redis-server runs`);
  }
  return client;
}
