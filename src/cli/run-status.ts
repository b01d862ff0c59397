/**
 * A board run that stops on the link still writes its run directory: summary.json
 * with "status": "link-failed", the error and the link health at the moment it failed
 * (what a user needs to tell a bad cable from a stalled board), and the checkpoint
 * directory if there is one.
 */
import type { Device } from '../device/types.js';
import { DeviceError } from '../device/errors.js';
import { anptVersion } from '../version.js';
import { linkHealth } from './backend.js';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { toJson } from './output.js';
import { EXIT_FAILED } from './errors.js';
import type { CliIo } from './io.js';
import type { TrainConfig } from './train-config.js';

/** Did `err` come from the board or its link (exit 3), as opposed to bad input or a bug? */
export function isLinkFailure(err: unknown): err is DeviceError {
  return err instanceof DeviceError && !['BAD_INPUT', 'BAD_REQUEST', 'TOO_LARGE', 'NOT_CONFIGURED', 'NO_PENDING_CHUNK'].includes(err.code);
}

/** Write DIR/summary.json for a run the link stopped (nothing else: there are no final weights). */
export function writeLinkFailed(cfg: TrainConfig, device: Device | undefined, err: DeviceError, command: string, seconds: number): void {
  const summary = {
    status: 'link-failed',
    error: { code: err.code, message: err.message },
    command,
    anpt_version: anptVersion(),
    task: cfg.task,
    algo: cfg.algo,
    device: cfg.deviceUrl,
    checkpoint_dir: cfg.checkpointDir,
    seconds,
    link: device ? linkHealth(device) : undefined,
  };
  writeSummaryOnly(cfg.out, summary);
}

/** Write DIR/summary.json next to what is there (the run state stays for --resume). */
function writeSummaryOnly(dir: string, summary: object): void {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  writeFileAtomic.sync(join(abs, 'summary.json'), toJson(summary, 2) + '\n');
}

/** SIGINT stopped a board run at a chunk boundary (its state saved): summary.json says so and how to go on; exit 1. */
export function interruptedExit(cfg: TrainConfig, io: CliIo, command: string, link: Record<string, number> | undefined): number {
  const resumeWith = `anpt train --resume ${cfg.out}`;
  writeSummaryOnly(cfg.out, { status: 'interrupted', command, anpt_version: anptVersion(), task: cfg.task, algo: cfg.algo, device: cfg.deviceUrl, resume_with: resumeWith, link });
  io.err(`anpt: interrupted; the run state is saved in ${cfg.out}: continue with ${resumeWith}\n`);
  return EXIT_FAILED;
}
