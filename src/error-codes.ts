/**
 * Every code an AnptError can carry: the union of each error class's codes. The CLI's
 * exit-code table (src/cli/errors.ts) is a Record over this union, so a code added to
 * any class does not compile until it is given its exit code.
 */
import type { DeviceErrorCode } from './device/errors.js';
import type { ConfigErrorCode } from './format/fixed.js';
import type { SweepDirErrorCode } from './sweep/results.js';
import type { TaskErrorCode } from './tasks/errors.js';

export type AnptErrorCode = DeviceErrorCode | ConfigErrorCode | TaskErrorCode | SweepDirErrorCode | 'USAGE';
