/**
 * The NAK: `Response { id: 0, error { BAD_REQUEST, field "frame" } }`, sent by a device
 * for a frame that arrived damaged (CRC error, bad escape, too short). Its id is
 * unknown, so it names none; a host with one call in flight resends that call at
 * once instead of waiting for its timeout. Hosts that do not know NAKs ignore a
 * reply to id 0 (they never use id 0). Shared by both ends (server.ts sends, rpc.ts reads).
 */

import { ErrorCode, type Response } from './messages.js';

/** The field of a NAK's error. */
export const NAK_FIELD = 'frame';

/** Is `res` a NAK? */
export function isNak(res: Response): boolean {
  return res.id === 0 && res.error?.code === ErrorCode.BAD_REQUEST && res.error.field === NAK_FIELD;
}
