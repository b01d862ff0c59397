/**
 * Frames' payloads <-> typed messages: the protobuf layer of the link.
 *
 * Encoding and decoding are the static code pbjs generates from proto/anpt.proto at
 * build time (src/link/generated/anpt.js; the types in wire-types.ts come from the
 * same run, via pbts). This module only
 * - checks values before encoding (a 1.5 or a -1 in a uint32 field would otherwise be
 *   silently truncated or wrapped) and enum values after decoding (proto3 keeps
 *   unknown ones),
 * - turns packed code arrays into Int32Array and packed doubles into Float64Array,
 * - returns a status instead of throwing, whatever the bytes.
 *
 * Those walks need each field's type, which static code does not carry: they read the
 * JSON descriptor of the same pbjs run (generated/anpt.json) as a protobufjs
 * reflection tree. Sizes are in sizes.ts, protocol constants in protocol.ts.
 */

import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import { toWireField as protoName } from './field-names.js';
import { anpt } from './generated/anpt.js';
import type { CallCase, Request, RequestBody, Response, ResponseBody, WireError } from './wire-types.js';

const v2 = anpt.v2;

/** The reflection tree of anpt.v2 (from the generated JSON descriptor, not the .proto). */
export const schemaRoot: protobuf.Root = protobuf.Root.fromJSON(createRequire(import.meta.url)('./generated/anpt.json') as protobuf.INamespace);
schemaRoot.resolveAll();

const RequestType = schemaRoot.lookupType('anpt.v2.Request');
const ResponseType = schemaRoot.lookupType('anpt.v2.Response');

/** The oneof cases of a Request body, in schema order. */
export const CALL_CASES = RequestType.oneofs.body.oneof as readonly CallCase[];

export type EncodeResult =
  | { status: 'OK'; bytes: Uint8Array }
  /** A value does not fit its field; `detail` names the field. Nothing was encoded. */
  | { status: 'INVALID_ARGUMENT'; detail: string };

export type DecodeResult<T> =
  | { status: 'OK'; value: T }
  /** Not a protobuf message of this type (truncated, bad wire type...). */
  | { status: 'DATA_LOSS'; detail: string }
  /**
   * Parsed, but a field holds a value the schema does not allow; the id is known and
   * `field` is its dotted path in proto names, e.g. "write_params.tensor".
   */
  | { status: 'INVALID_ARGUMENT'; detail: string; id: number; field: string };

// ---------------------------------------------------------------------------------
// Codec

/** Request -> payload bytes. Never throws. */
export function encodeRequest(req: Request): EncodeResult {
  const wire = toWire(req.id, req.body, undefined);
  if (req.session) wire.session = req.session;
  if (req.after) wire.afterBack = (req.id - req.after) >>> 0; // on the wire as a distance back (1: 2 bytes)
  return encode(RequestType, v2.Request, wire);
}

/** Response -> payload bytes. Never throws. */
export function encodeResponse(res: Response): EncodeResult {
  return encode(ResponseType, v2.Response, toWire(res.id, res.body, res.error));
}

/**
 * Payload bytes -> Request. Never throws. Unknown enum values are refused
 * (INVALID_ARGUMENT, with the id so the device can answer BAD_REQUEST); an unknown
 * body (a newer host) decodes as `{ case: undefined }`.
 */
export function decodeRequest(bytes: Uint8Array): DecodeResult<Request> {
  const r = decode(RequestType, v2.Request, bytes, true);
  if (r.status !== 'OK') return r;
  const { id, body, session, after } = r.value;
  const value: Request = { id, session: session ?? 0, body: body as RequestBody };
  if (after) value.after = after; // present only when set (pipelining)
  return { status: 'OK', value };
}

/** Payload bytes -> Response. Never throws. Unknown enum values are kept (a newer device may send them). */
export function decodeResponse(bytes: Uint8Array): DecodeResult<Response> {
  const r = decode(ResponseType, v2.Response, bytes, false);
  if (r.status !== 'OK') return r;
  const { id, body, error } = r.value;
  const res: Response = { id, body: body as ResponseBody };
  if (error) res.error = error as WireError;
  return { status: 'OK', value: res };
}

type Obj = Record<string, unknown>;

function toWire(id: number, body: { case: string | undefined; value?: unknown }, error: WireError | undefined): Obj {
  const o: Obj = { id };
  if (body.case !== undefined) o[body.case] = body.value ?? {};
  if (error !== undefined) o.error = error;
  return o;
}

/** The generated class of a message: encode, decode, toObject (static code). */
interface Generated {
  encode(m: Obj): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  toObject(m: never, o: protobuf.IConversionOptions): Obj;
}

function encode(type: protobuf.Type, gen: Generated, wire: Obj): EncodeResult {
  const problem = checkMessage(type, wire, '');
  if (problem) return { status: 'INVALID_ARGUMENT', detail: problem };
  try {
    // Copy out of protobufjs' pooled Buffer so callers own plain, unshared bytes.
    return { status: 'OK', bytes: new Uint8Array(gen.encode(wire).finish()) };
  } catch (e) {
    return { status: 'INVALID_ARGUMENT', detail: `encoding ${type.name} failed: ${(e as Error).message}` };
  }
}

function decode(
  type: protobuf.Type,
  gen: Generated,
  bytes: Uint8Array,
  strictEnums: boolean,
): DecodeResult<{ id: number; session?: number; after?: number; body: { case: string | undefined; value?: unknown }; error?: unknown }> {
  let obj: Obj;
  try {
    obj = gen.toObject(gen.decode(bytes) as never, { defaults: true, longs: Number, oneofs: true });
  } catch (e) {
    return { status: 'DATA_LOSS', detail: `not a valid ${type.name}: ${(e as Error).message}` };
  }
  const id = obj.id as number;
  const problem = normalise(type, obj, '', strictEnums);
  if (problem) return { status: 'INVALID_ARGUMENT', detail: `${problem.field}: ${problem.detail}`, id, field: problem.field };
  const c = obj.body as string | undefined;
  const body = c === undefined ? { case: undefined } : { case: c, value: obj[c] };
  const back = obj.afterBack as number | undefined;
  return { status: 'OK', value: { id, session: obj.session as number | undefined, after: back ? (id - back) >>> 0 : undefined, body, error: obj.error } };
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

/** Why `v` does not fit a scalar field of protobuf type `t`, or undefined if it does. */
function checkScalar(t: string, v: unknown): string | undefined {
  switch (t) {
    case 'uint32':
    case 'fixed32':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= UINT32_MAX ? undefined : 'a uint32';
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return typeof v === 'number' && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX ? undefined : 'an int32';
    case 'uint64':
    case 'fixed64':
      return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? undefined : 'a non-negative safe integer';
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return typeof v === 'number' && Number.isSafeInteger(v) ? undefined : 'a safe integer';
    case 'double':
    case 'float':
      return typeof v === 'number' ? undefined : 'a number';
    case 'bool':
      return typeof v === 'boolean' ? undefined : 'true or false';
    case 'string':
      return typeof v === 'string' ? undefined : 'a string';
    case 'bytes':
      return v instanceof Uint8Array ? undefined : 'a Uint8Array';
    default:
      return `of unsupported type ${t}`;
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v !== null && typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

const SIGNED_FIELD_TYPES = new Set(['int32', 'sint32', 'sfixed32', 'int64', 'sint64', 'sfixed64', 'double']);
const UNSIGNED_FIELD_TYPES = new Set([...SIGNED_FIELD_TYPES, 'uint32', 'fixed32', 'uint64', 'fixed64']);

/** Typed arrays whose every element already fits the field type need no per-element check. */
function typedArrayFits(t: string, v: ArrayBufferView): boolean {
  if (v instanceof Int32Array || v instanceof Int16Array || v instanceof Int8Array) return SIGNED_FIELD_TYPES.has(t);
  if (v instanceof Uint16Array || v instanceof Uint8Array) return UNSIGNED_FIELD_TYPES.has(t);
  if (v instanceof Float64Array) return t === 'double';
  return false;
}

/** Check a plain object against a message type before encoding; returns the first problem. */
function checkMessage(type: protobuf.Type, o: Obj, path: string): string | undefined {
  if (o === null || typeof o !== 'object') return `${path || type.name}: expected a ${type.name} object, got ${show(o)}`;
  for (const f of type.fieldsArray) {
    const v = o[f.name];
    if (v === undefined || v === null) continue;
    const p = path ? `${path}.${f.name}` : f.name;
    const rt = f.resolvedType;
    if (f.repeated) {
      const isView = ArrayBuffer.isView(v) && !(v instanceof DataView);
      if (!Array.isArray(v) && !isView) return `${p}: expected an array, got ${show(v)}`;
      if (isView && !(rt instanceof protobuf.Type) && !(rt instanceof protobuf.Enum) && typedArrayFits(f.type, v as ArrayBufferView)) continue;
      const arr = v as ArrayLike<unknown>;
      for (let i = 0; i < arr.length; i++) {
        const problem = checkValue(f, rt, arr[i], `${p}[${i}]`);
        if (problem) return problem;
      }
      continue;
    }
    const problem = checkValue(f, rt, v, p);
    if (problem) return problem;
  }
  return undefined;
}

function checkValue(f: protobuf.Field, rt: protobuf.Type | protobuf.Enum | null, v: unknown, p: string): string | undefined {
  if (rt instanceof protobuf.Type) return checkMessage(rt, v as Obj, p);
  if (rt instanceof protobuf.Enum) {
    return typeof v === 'number' && rt.valuesById[v] !== undefined
      ? undefined
      : `${p}: ${show(v)} is not a ${rt.name} value; allowed ${Object.keys(rt.valuesById).join(', ')}`;
  }
  const want = checkScalar(f.type, v);
  return want ? `${p}: ${show(v)} is not ${want}` : undefined;
}


/**
 * After toObject: absent sub-messages become undefined, packed numbers become typed
 * arrays, enum values are checked (strict) or kept. Returns the first problem, with
 * its path in proto names.
 */
function normalise(type: protobuf.Type, o: Obj, path: string, strictEnums: boolean): { field: string; detail: string } | undefined {
  for (const f of type.fieldsArray) {
    const v = o[f.name];
    const p = path ? `${path}.${protoName(f.name)}` : protoName(f.name);
    const rt = f.resolvedType;
    if (v === undefined || v === null) {
      delete o[f.name];
      continue;
    }
    if (rt instanceof protobuf.Type) {
      const items = f.repeated ? (v as Obj[]) : [v as Obj];
      for (let i = 0; i < items.length; i++) {
        const problem = normalise(rt, items[i], f.repeated ? `${p}[${i}]` : p, strictEnums);
        if (problem) return problem;
      }
      continue;
    }
    if (rt instanceof protobuf.Enum) {
      if (!strictEnums) continue;
      const values = f.repeated ? (v as number[]) : [v as number];
      for (const x of values) {
        if (rt.valuesById[x] === undefined) {
          return { field: p, detail: `${x} is not a ${rt.name} value; allowed ${Object.keys(rt.valuesById).join(', ')}` };
        }
      }
      continue;
    }
    if (f.repeated) {
      if (f.type === 'sint32' || f.type === 'int32' || f.type === 'sfixed32') o[f.name] = Int32Array.from(v as number[]);
      else if (f.type === 'double') o[f.name] = Float64Array.from(v as number[]);
    }
  }
  return undefined;
}

