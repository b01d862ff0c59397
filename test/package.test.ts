// anpt as a user installs it: `npm pack`, install the tarball into a new project, then
// type-check and run the two programs of docs/api.md (TypeScript on the emulator,
// JavaScript on anpt-firmware-sim over TCP) and both bins from node_modules/.bin.
// The tarball must hold the WASM chip, the schema and the data, and no tests, bench or
// scripts. dist/ is rebuilt first (tsc), so the tarball holds the current sources;
// build/*.wasm is what `npm ci` built (the emulator tests use the same files).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closedPort } from './closed-port.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TMP = mkdtempSync(join(tmpdir(), 'anpt-package-'));
const PROJECT = join(TMP, 'project');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

afterAll(() => rmSync(TMP, { recursive: true, force: true }));

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run a program to its end without blocking the test worker (vitest talks to it meanwhile). */
function run(command: string, args: string[], cwd: string, timeoutMs = 300_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function ok(r: Ran, what: string): string {
  expect(r.status, `${what}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** The code block of docs/api.md whose first line is `// <name>: ...`. */
function docProgram(name: string): string {
  const doc = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');
  const blocks = [...doc.matchAll(/```(?:ts|js)\n([\s\S]*?)```/g)].map((m) => m[1]);
  const found = blocks.filter((b) => b.startsWith(`// ${name}:`));
  expect(found, `docs/api.md has one block starting "// ${name}:"`).toHaveLength(1);
  return found[0];
}

/** "untrained 8.395e-2, after 1 epoch 5.547e-3" -> numbers. */
function losses(out: string): { untrained: number; trained: number } {
  const m = /untrained ([\d.e+-]+), after 1 epoch ([\d.e+-]+)/.exec(out);
  expect(m, out).not.toBeNull();
  return { untrained: Number(m![1]), trained: Number(m![2]) };
}

let tarball: string;
let packed: string[];

beforeAll(async () => {
  ok(await run('npm', ['run', 'build:ts'], ROOT), 'npm run build:ts');
  const pack = JSON.parse(ok(await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', TMP], ROOT), 'npm pack')) as { filename: string; files: { path: string }[] }[];
  tarball = join(TMP, pack[0].filename);
  packed = pack[0].files.map((f) => f.path);
  mkdirSync(PROJECT);
  writeFileSync(join(PROJECT, 'package.json'), JSON.stringify({ name: 'uses-anpt', version: '1.0.0', private: true, type: 'module' }));
  ok(await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], PROJECT), 'npm install <tarball>');
}, 600_000);

describe('the installed package', () => {
  it('the tarball holds the WASM chip, schema, data and build, and no tests, bench or scripts', () => {
    for (const f of ['build/anpt-simd.wasm', 'build/anpt-scalar.wasm', 'build/anpt-float.wasm', 'proto/anpt.proto', 'data/WTH.csv', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/firmware-sim/main.js', 'package.json'])
      expect(packed).toContain(f);
    expect(packed.filter((f) => /^(test|bench|scripts|assembly|src|firmware-sim)\//.test(f) || /(^|\/)[^/]*\.test\.[jt]s$/.test(f))).toEqual([]);
    expect(existsSync(join(PROJECT, 'node_modules', 'anpt', 'build', 'anpt-simd.wasm'))).toBe(true);
  });

  it("docs/api.md's emulator program type-checks against the declarations and learns in one epoch", async () => {
    writeFileSync(join(PROJECT, 'train-emulator.ts'), docProgram('train-emulator.ts'));
    writeFileSync(join(PROJECT, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out',
        // the user's project has its own @types/node; this one borrows anpt's
        typeRoots: [join(ROOT, 'node_modules', '@types')], types: ['node'],
      },
      files: ['train-emulator.ts'],
    }));
    ok(await run(process.execPath, [TSC, '-p', 'tsconfig.json'], PROJECT), 'tsc');
    // a type error in the program must fail the check (the declarations are really read)
    writeFileSync(join(PROJECT, 'wrong.ts'), "import { trainAnpt } from 'anpt';\nconst n: number = trainAnpt;\nexport { n };\n");
    const wrong = await run(process.execPath, [TSC, '--noEmit', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--strict', '--skipLibCheck', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types'), 'wrong.ts'], PROJECT);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stdout).toMatch(/wrong\.ts\(2,7\): error TS2322/);
    const out = ok(await run(process.execPath, [join('out', 'train-emulator.js')], PROJECT), 'node out/train-emulator.js');
    const { untrained, trained } = losses(out);
    const zero = Number(/zero output ([\d.e+-]+)/.exec(out)![1]);
    expect(trained).toBeLessThan(untrained / 3);
    expect(trained).toBeLessThan(zero / 3);
  });

  it('npx anpt train runs from the installed package; a device that is not there exits 3', async () => {
    const out = join(PROJECT, 'runs', 'mg');
    const r = await run('npx', ['--no-install', 'anpt', 'train', '--task', 'mackey-glass', '--steps', '500', '--batch', '2', '--hidden', '16', '--epochs', '1', '--quiet', '--out', out], PROJECT);
    expect(ok(r, 'npx anpt train')).toMatch(/^final test MSE .* x the zero-output MSE/m);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ status: 'ok', backend: 'emulator', anpt_version: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version });
    expect(summary.final_test_loss).toBeLessThan(summary.initial_test_loss);
    const none = await run('npx', ['--no-install', 'anpt', 'train', '--task', 'mackey-glass', '--device', `tcp://127.0.0.1:${await closedPort()}`, '--out', join(PROJECT, 'runs', 'none')], PROJECT);
    expect(none.status, none.stderr).toBe(3);
    expect(none.stderr).toMatch(/^anpt: tcp:\/\/127\.0\.0\.1:\d+: cannot connect .*\n$/);
  });

  it("npx anpt-firmware-sim --help works, and docs/api.md's board program trains the installed firmware-sim over TCP", async () => {
    const help = await run('npx', ['--no-install', 'anpt-firmware-sim', '--help'], PROJECT);
    expect(ok(help, 'anpt-firmware-sim --help')).toMatch(/^Usage: anpt-firmware-sim \[options\]/);
    expect(help.stderr).toBe('');
    writeFileSync(join(PROJECT, 'train-board.mjs'), docProgram('train-board.mjs'));
    const sim = spawn(join(PROJECT, 'node_modules', '.bin', 'anpt-firmware-sim'), ['--tcp', '0', '--baud', '2000000'], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let text = '';
        sim.stdout.setEncoding('utf8').on('data', (t: string) => {
          text += t;
          if (text.includes('\n')) resolve(text.split('\n')[0].trim());
        });
        sim.once('exit', (code) => reject(new Error(`firmware-sim exited (${code}) before printing its address`)));
      });
      expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
      const out = ok(await run(process.execPath, ['train-board.mjs', url], PROJECT), 'node train-board.mjs');
      expect(out).toMatch(/^anpt-firmware-sim .*: test MSE untrained/);
      const { untrained, trained } = losses(out);
      expect(trained).toBeLessThan(untrained / 3);
    } finally {
      sim.kill('SIGTERM');
    }
  });
});
