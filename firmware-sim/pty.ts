/**
 * A pseudo-terminal pair made by socat: the simulator serves one end, a host opens the
 * other with serialport as if it were a board's USB serial port. socat copies bytes
 * between the two masters; the baud rate each side sets is recorded but not applied,
 * so hostBaud() reads what the host set (stty) and uart.ts makes a mismatch garble.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export interface PtyPair {
  /** The simulator's end (/dev/pts/N). */
  devicePath: string;
  /** The end a host opens (/dev/pts/M). */
  hostPath: string;
  socat: ChildProcess;
  /** The baud rate the host last set on its end (read with stty, cached while the line is busy). */
  hostBaud(): number;
  close(): void;
}

/** Start socat with two raw pseudo-terminals; rejects with a message saying what to install. */
export function openPtyPair(defaultBaud: number, timeoutMs = 5000): Promise<PtyPair> {
  return new Promise((resolve, reject) => {
    const socat = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const paths: string[] = [];
    let log = '';
    const timer = setTimeout(() => fail(`socat made no pseudo-terminals within ${timeoutMs} ms: ${log.trim().split('\n').pop() ?? ''}`), timeoutMs);
    const fail = (msg: string) => {
      clearTimeout(timer);
      socat.kill();
      reject(new Error(msg));
    };
    socat.once('error', (e: NodeJS.ErrnoException) =>
      fail(e.code === 'ENOENT' ? 'socat is not installed; --pty needs it (apt-get install socat, brew install socat)' : `socat: ${e.message}`),
    );
    socat.stderr!.setEncoding('utf8');
    socat.stderr!.on('data', (text: string) => {
      log += text;
      for (const m of text.matchAll(/PTY is (\S+)/g)) paths.push(m[1]);
      if (paths.length === 2 && /starting data transfer loop/.test(log)) {
        clearTimeout(timer);
        socat.stderr!.removeAllListeners('data');
        socat.stderr!.resume(); // keep draining so socat never blocks on a full pipe
        const [devicePath, hostPath] = paths;
        let cached = { baud: defaultBaud, at: -Infinity };
        let lastAsked = -Infinity;
        resolve({
          devicePath,
          hostPath,
          socat,
          hostBaud() {
            // A host sets its rate when it opens the port, so a new host comes after a
            // quiet line: read again after 50 ms of silence, and every second anyway
            // (stty blocks for ~2 ms, too long to do per chunk at 1 Mbaud).
            const now = performance.now();
            const idle = now - lastAsked;
            lastAsked = now;
            if (idle > 50 || now - cached.at > 1000) {
              try {
                const text = execFileSync('stty', ['-F', hostPath, 'speed'], { encoding: 'utf8', timeout: 1000 });
                cached = { baud: Number(text.trim()) || defaultBaud, at: now };
              } catch {
                cached = { baud: cached.baud, at: now };
              }
            }
            return cached.baud;
          },
          close: () => void socat.kill(),
        });
      }
    });
    socat.once('exit', (code) => fail(`socat exited (${code}) before the pseudo-terminals were ready: ${log.trim()}`));
  });
}
