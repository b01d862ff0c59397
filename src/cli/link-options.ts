/**
 * The link flags of every command that talks to a board: the retransmission timer,
 * the retry budget, and taking the board from another host on purpose.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { SerialDeviceOptions } from '../link/serial-device.js';
import { DEFAULT_BUDGET_MS } from '../link/rpc.js';
import { positiveInt, positiveReal } from './options.js';

export interface LinkFlags {
  linkTimeout?: string;
  linkBudget?: string;
  takeOver?: boolean;
}

/** The link options of a command (what SerialDevice.open takes). */
export type LinkSettings = Pick<SerialDeviceOptions, 'timeoutMs' | 'budgetMs' | 'takeOver' | 'hostName' | 'hostNonce'>;

export function addLinkOptions(cmd: Command): Command {
  return cmd
    .option('--link-timeout <ms>', 'fixed wait for each reply, ms (default: adaptive, from the measured round trips with backoff)')
    .option('--link-budget <s>', `how long one call keeps retrying before the link counts as failed, seconds (default ${DEFAULT_BUDGET_MS / 1000})`)
    .option('--take-over', 'take the board from the host that holds it (its run then stops); without it a held board is refused (BUSY)');
}

/** Check the link flags (UsageError naming the flag); `command` names this host in the board's BUSY replies to others. */
export function resolveLinkSettings(f: LinkFlags, command: string): LinkSettings {
  return {
    timeoutMs: f.linkTimeout === undefined ? undefined : positiveInt('--link-timeout', f.linkTimeout, 1000, '500'),
    budgetMs: f.linkBudget === undefined ? undefined : Math.round(1000 * positiveReal('--link-budget', f.linkBudget, 20, '60')),
    takeOver: f.takeOver === true,
    hostName: `anpt ${command} (pid ${process.pid} on ${hostname()})`,
  };
}
