/**
 * Protocol constants, read from the code pbjs generates from proto/anpt.proto at build
 * time (src/link/generated/, see package.json build:proto): the version, the enums
 * without their prefix (TENSOR_W -> Tensor.W), the string bounds of Error and the NAK.
 * Nothing here restates the schema by hand.
 */

import { anpt } from './generated/anpt.js';
import type { Response } from './wire-types.js';

const v2 = anpt.v2;

/** The keys of enum E that start with prefix P, without it. */
type Stripped<E, P extends string> = { readonly [K in keyof E as K extends `${P}${infer R}` ? R : never]: E[K] };

/** A generated enum object without its value prefix (the prefix is the enum name in SCREAMING_CASE). */
function stripped<E extends object, P extends string>(e: E, prefix: P): Stripped<E, P> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(e)) if (k.startsWith(prefix) && typeof v === 'number') out[k.slice(prefix.length)] = v;
  return Object.freeze(out) as Stripped<E, P>;
}

/**
 * Wire protocol version spoken by this build: the value of
 * anpt.v2.PROTOCOL_VERSION_CURRENT in proto/anpt.proto. Sent in Hello.protocolVersion.
 */
export const PROTOCOL_VERSION: number = v2.ProtocolVersion.PROTOCOL_VERSION_CURRENT;

export const ErrorCode = stripped(v2.ErrorCode, 'ERROR_CODE_');
export type ErrorCode = anpt.v2.ErrorCode;
export const NoiseSource = stripped(v2.NoiseSource, 'NOISE_SOURCE_');
export type NoiseSource = anpt.v2.NoiseSource;
export const Activation = stripped(v2.Activation, 'ACTIVATION_');
export type Activation = anpt.v2.Activation;
/** Same codes as ROUNDING_CODE in src/format/fixed.ts. */
export const Rounding = stripped(v2.Rounding, 'ROUNDING_');
export type Rounding = anpt.v2.Rounding;
/** Same codes as OVERFLOW_CODE in src/format/fixed.ts. */
export const Overflow = stripped(v2.Overflow, 'OVERFLOW_');
export type Overflow = anpt.v2.Overflow;
export const Tensor = stripped(v2.Tensor, 'TENSOR_');
export type Tensor = anpt.v2.Tensor;
/** Configure.learner.trace (TRACE_NONE -> TraceKind.NONE; its values' prefix is not the enum's name, so it is not in ENUM_MIRRORS). */
export const TraceKind = stripped(v2.TraceKind, 'TRACE_');
export type TraceKind = anpt.v2.TraceKind;

/** Proto enum name -> its prefix-free object above (for the schema consistency test). */
export const ENUM_MIRRORS: Record<string, { readonly [k: string]: number }> = {
  'anpt.v2.ErrorCode': ErrorCode,
  'anpt.v2.NoiseSource': NoiseSource,
  'anpt.v2.Activation': Activation,
  'anpt.v2.Rounding': Rounding,
  'anpt.v2.Overflow': Overflow,
  'anpt.v2.Tensor': Tensor,
};

/** Max sizes of Error strings (proto comments; a nanopb firmware truncates the same way). */
export const ERROR_MESSAGE_MAX = 120;
export const ERROR_FIELD_MAX = 48;
export const ERROR_HOLDER_MAX = 32;

/**
 * The NAK: `Response { id: 0, error { BAD_REQUEST, field "frame" } }`, sent by a device
 * for a frame that arrived damaged (CRC error, bad escape, too short). Its id is
 * unknown, so it names none; a host with one call in flight resends that call at
 * once instead of waiting for its timeout. Hosts that do not know NAKs ignore a
 * reply to id 0 (they never use id 0).
 */
export const NAK_FIELD = 'frame';

/** Is `res` a NAK? */
export function isNak(res: Response): boolean {
  return res.id === 0 && res.error?.code === ErrorCode.BAD_REQUEST && res.error.field === NAK_FIELD;
}

/** Name of a wire ErrorCode value ("ERROR_11" for one this host does not know). */
export function errorName(code: number): string {
  const hit = Object.entries(ErrorCode).find(([, v]) => v === code);
  return hit ? hit[0] : `ERROR_${code}`;
}
