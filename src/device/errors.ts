/**
 * Errors a device call can end with: a code a program can branch on and a one-line
 * message a person can act on. The same codes travel over the wire (proto/anpt.proto).
 */
export type DeviceErrorCode =
  | 'BAD_REQUEST'
  | 'BAD_INPUT'
  | 'NOT_CONFIGURED'
  | 'NO_PENDING_CHUNK'
  | 'CONFIG_OUT_OF_RANGE'
  | 'UNSUPPORTED_VERSION'
  | 'TOO_LARGE'
  | 'BUSY'
  | 'NO_SESSION'
  | 'TIMEOUT'
  | 'LINK'
  | 'DATA_LOSS'
  | 'INTERNAL';

export class DeviceError extends Error {
  constructor(readonly code: DeviceErrorCode, message: string) {
    super(message);
    this.name = 'DeviceError';
  }
}
