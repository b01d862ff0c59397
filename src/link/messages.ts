/**
 * Frames' payloads <-> typed messages: the protobuf layer of the link.
 *
 * The schema is proto/anpt.proto, loaded at run time with protobufjs (no generated or
 * hand-written encoders): protobufjs encodes and decodes, this module only
 * - gives the messages TypeScript types (field names in camelCase, as protobufjs
 *   names them; the `oneof body` as a `{ case, value }` pair),
 * - checks values before encoding (a 1.5 in a uint32 field would otherwise be
 *   silently truncated) and enum values after decoding (proto3 keeps unknown ones),
 * - turns packed code arrays into Int32Array and packed doubles into Float64Array,
 * - returns a status instead of throwing, whatever the bytes.
 *
 * Size bounds for chunking and configuration checks live here too, next to the
 * schema they are computed from.
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { toWireField as protoName } from './field-names.js';
import { MIN_FRAME_BYTES } from './frame.js';

// ---------------------------------------------------------------------------------
// Schema loading

/** proto/anpt.proto, found from src/link/ (tests, tsx) or dist/src/link/ (built package). */
function findProtoFile(): string {
  const candidates = ['../../proto/anpt.proto', '../../../proto/anpt.proto'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`anpt: protocol schema not found; looked for ${candidates.join(' and ')}`);
  return found;
}

/** Path of the schema file this module loaded. */
export const PROTO_FILE: string = findProtoFile();

const root = protobuf.loadSync(PROTO_FILE);
root.resolveAll();

const RequestType = root.lookupType('anpt.v2.Request');
const ResponseType = root.lookupType('anpt.v2.Response');

/** The protobufjs reflection root of anpt.v2 (for tests and tools; do not mutate). */
export const schemaRoot: protobuf.Root = root;

/**
 * Wire protocol version spoken by this build: the value of
 * anpt.v2.PROTOCOL_VERSION_CURRENT in proto/anpt.proto. Sent in Hello.protocolVersion.
 */
export const PROTOCOL_VERSION: number = root.lookupEnum('anpt.v2.ProtocolVersion').values.PROTOCOL_VERSION_CURRENT;

// ---------------------------------------------------------------------------------
// Enums: the proto values without their prefix (TENSOR_W -> Tensor.W). A test checks
// them against the schema.

export const ErrorCode = {
  UNSPECIFIED: 0,
  BAD_REQUEST: 1,
  UNSUPPORTED_VERSION: 2,
  CONFIG_OUT_OF_RANGE: 3,
  NOT_CONFIGURED: 4,
  NO_PENDING_CHUNK: 5,
  TOO_LARGE: 6,
  INTERNAL: 7,
  BAD_INPUT: 8,
  BUSY: 9,
  NO_SESSION: 10,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const NoiseSource = { UNSPECIFIED: 0, COUNTER_PRNG: 1, PHYSICAL: 2 } as const;
export type NoiseSource = (typeof NoiseSource)[keyof typeof NoiseSource];

export const Activation = { UNSPECIFIED: 0, TANH: 1, HARDTANH: 2, LINEAR: 3 } as const;
export type Activation = (typeof Activation)[keyof typeof Activation];

/** Same codes as ROUNDING_CODE in src/format/fixed.ts. */
export const Rounding = { NEAREST: 0, FLOOR: 1, STOCHASTIC: 2 } as const;
export type Rounding = (typeof Rounding)[keyof typeof Rounding];

/** Same codes as OVERFLOW_CODE in src/format/fixed.ts. */
export const Overflow = { SAT: 0, WRAP: 1 } as const;
export type Overflow = (typeof Overflow)[keyof typeof Overflow];

export const Tensor = { UNSPECIFIED: 0, W: 1, R: 2, V: 3, STATE_CLEAN: 4, STATE_NOISY: 5 } as const;
export type Tensor = (typeof Tensor)[keyof typeof Tensor];

/** TS enum object -> proto enum name (for the schema consistency test). */
export const ENUM_MIRRORS: Record<string, { readonly [k: string]: number }> = {
  'anpt.v2.ErrorCode': ErrorCode,
  'anpt.v2.NoiseSource': NoiseSource,
  'anpt.v2.Activation': Activation,
  'anpt.v2.Rounding': Rounding,
  'anpt.v2.Overflow': Overflow,
  'anpt.v2.Tensor': Tensor,
};

// ---------------------------------------------------------------------------------
// Message types (see proto/anpt.proto for the meaning and bounds of each field).
// Enum fields of messages only a device sends are typed `number`: a newer device
// may send values this host does not know, and the host must cope.

export type Empty = Record<string, never>;

export interface Hello {
  protocolVersion: number;
  maxFrameBytes: number;
  hostName: string;
  /** Random per host process, never 0 (fixed32). */
  hostNonce: number;
  takeOver: boolean;
}

export interface Limits {
  maxInputs: number;
  maxHidden: number;
  maxOutputs: number;
  maxBatch: number;
  maxChunkSteps: number;
  minBits: number;
  maxBits: number;
  /** Rounding values. */
  roundingModes: number[];
  /** Overflow values. */
  overflowModes: number[];
  /** Activation values. */
  activations: number[];
  ramBytes: number;
  maxFrameBytes: number;
  plasticityOnDevice: boolean;
  /** A NoiseSource value. */
  noiseSource: number;
  minFrameBytes: number;
}

export interface HelloReply {
  protocolVersion: number;
  firmwareName: string;
  firmwareVersion: string;
  deviceId: string;
  bootCounter: number;
  /** fixed32, the session this Hello opened or resumed; never 0. */
  sessionId: number;
  limits?: Limits;
  /** 0 = never. */
  sessionLeaseMs: number;
}

export interface Topology {
  inputs: number;
  hidden: number;
  outputs: number;
  batch: number;
  activation: Activation;
}

export interface FixedFormat {
  bits: number;
  frac: number;
  signed: boolean;
  rounding: Rounding;
  overflow: Overflow;
}

export interface Formats {
  input?: FixedFormat;
  weight?: FixedFormat;
  pre?: FixedFormat;
  activity?: FixedFormat;
  output?: FixedFormat;
}

export interface Noise {
  /** Real units. */
  hiddenSigma: number;
  /** Real units. */
  outputSigma: number;
}

export interface Mismatch {
  gainSpread: number;
  offsetSpread: number;
  seed: number;
}

export interface Configure {
  topology?: Topology;
  formats?: Formats;
  noise?: Noise;
  mismatch?: Mismatch;
  seed: number;
  maxChunkSteps: number;
}

export interface WriteParams {
  tensor: Tensor;
  offset: number;
  /** Codes of the tensor's format. */
  codes: Int32Array;
}

export interface ReadParams {
  tensor: Tensor;
  offset: number;
  count: number;
}

export interface ReadParamsReply {
  /** A Tensor value. */
  tensor: number;
  offset: number;
  total: number;
  codes: Int32Array;
}

export interface Run {
  steps: number;
  t0: number;
  /** K x B x I input codes. */
  inputs: Int32Array;
  noisy: boolean;
  hiddenTrace: boolean;
}

export interface RunReply {
  t0: number;
  steps: number;
  /** K x B x O output codes. */
  clean: Int32Array;
  /** K x B x O output codes, empty for a clean-only run. */
  noisy: Int32Array;
  /** K x B x H activity codes, empty unless asked for. */
  hidden: Int32Array;
}

export interface Reward {
  t0: number;
  /** One dL per step of the rewarded chunk. */
  deltaLoss: Float64Array;
  lrW: number;
  lrR: number;
  lrV: number;
}

export interface LinkCounters {
  framesOk: number;
  crcErrors: number;
  oversize: number;
  malformed: number;
  bytesDropped: number;
  requests: number;
  replays: number;
  decodeErrors: number;
  injectedCorrupt: number;
  injectedDrops: number;
  injectedStalls: number;
  injectedResets: number;
  queueDrops: number;
}

export interface StatsReply {
  steps: number;
  updates: number;
  runCalls: number;
  rewardCalls: number;
  link?: LinkCounters;
}

/** The wire `Error` message (renamed: `Error` is JavaScript's). */
export interface WireError {
  /** An ErrorCode value. */
  code: number;
  message: string;
  field: string;
  /** BUSY only. */
  holder?: string;
  /** BUSY only. */
  heldMs?: number;
}

export interface ReadConfigReply {
  config?: Configure;
}

/** Each call: its request body and its reply body, by oneof case name. */
export interface Calls {
  hello: [Hello, HelloReply];
  configure: [Configure, Empty];
  writeParams: [WriteParams, Empty];
  readParams: [ReadParams, ReadParamsReply];
  run: [Run, RunReply];
  reward: [Reward, Empty];
  resetState: [Empty, Empty];
  stats: [Empty, StatsReply];
  readConfig: [Empty, ReadConfigReply];
}
export type CallCase = keyof Calls;
export const CALL_CASES: readonly CallCase[] = [
  'hello',
  'configure',
  'writeParams',
  'readParams',
  'run',
  'reward',
  'resetState',
  'stats',
  'readConfig',
];

/** No body: an empty or unknown (newer) request or reply. */
export type NoBody = { case: undefined; value?: undefined };
export type RequestBody = { [C in CallCase]: { case: C; value: Calls[C][0] } }[CallCase] | NoBody;
export type ResponseBody = { [C in CallCase]: { case: C; value: Calls[C][1] } }[CallCase] | NoBody;

export interface Request {
  /** uint32 */
  id: number;
  /** fixed32: the open session (0 = none); required on changing calls. */
  session?: number;
  body: RequestBody;
}

export interface Response {
  /** uint32, the id of the request answered. */
  id: number;
  body: ResponseBody;
  /** Set when the request failed (then body has no case). */
  error?: WireError;
}

// ---------------------------------------------------------------------------------
// Results

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
  return encode(RequestType, wire);
}

/** Response -> payload bytes. Never throws. */
export function encodeResponse(res: Response): EncodeResult {
  return encode(ResponseType, toWire(res.id, res.body, res.error));
}

/**
 * Payload bytes -> Request. Never throws. Unknown enum values are refused
 * (INVALID_ARGUMENT, with the id so the device can answer BAD_REQUEST); an unknown
 * body (a newer host) decodes as `{ case: undefined }`.
 */
export function decodeRequest(bytes: Uint8Array): DecodeResult<Request> {
  const r = decode(RequestType, bytes, true);
  if (r.status !== 'OK') return r;
  const { id, body, session } = r.value;
  return { status: 'OK', value: { id, session: session ?? 0, body: body as RequestBody } };
}

/** Payload bytes -> Response. Never throws. Unknown enum values are kept (a newer device may send them). */
export function decodeResponse(bytes: Uint8Array): DecodeResult<Response> {
  const r = decode(ResponseType, bytes, false);
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

function encode(type: protobuf.Type, wire: Obj): EncodeResult {
  const problem = checkMessage(type, wire, '');
  if (problem) return { status: 'INVALID_ARGUMENT', detail: problem };
  try {
    // Copy out of protobufjs' pooled Buffer so callers own plain, unshared bytes.
    return { status: 'OK', bytes: new Uint8Array(type.encode(wire).finish()) };
  } catch (e) {
    return { status: 'INVALID_ARGUMENT', detail: `encoding ${type.name} failed: ${(e as Error).message}` };
  }
}

function decode(
  type: protobuf.Type,
  bytes: Uint8Array,
  strictEnums: boolean,
): DecodeResult<{ id: number; session?: number; body: { case: string | undefined; value?: unknown }; error?: unknown }> {
  let obj: Obj;
  try {
    obj = type.toObject(type.decode(bytes), { defaults: true, longs: Number, oneofs: true }) as Obj;
  } catch (e) {
    return { status: 'DATA_LOSS', detail: `not a valid ${type.name}: ${(e as Error).message}` };
  }
  const id = obj.id as number;
  const problem = normalise(type, obj, '', strictEnums);
  if (problem) return { status: 'INVALID_ARGUMENT', detail: `${problem.field}: ${problem.detail}`, id, field: problem.field };
  const c = obj.body as string | undefined;
  const body = c === undefined ? { case: undefined } : { case: c, value: obj[c] };
  return { status: 'OK', value: { id, session: obj.session as number | undefined, body, error: obj.error } };
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

// ---------------------------------------------------------------------------------
// Size bounds (bytes of the protobuf payload, i.e. of a frame before framing)

/** Bound of everything in a Request or Response except its one packed array. */
export const ENVELOPE_BYTES = 32;

/** Largest frame limit the size bounds hold for (length prefixes stay within 3 bytes). */
export const MAX_SUPPORTED_FRAME_BYTES = 2 ** 21 - 64;

/** Throws RangeError unless `n` is a frame limit an endpoint can use (programming error, not input). */
export function checkFrameLimit(n: number, who: string): number {
  if (!Number.isInteger(n) || n < MIN_FRAME_BYTES || n > MAX_SUPPORTED_FRAME_BYTES) {
    throw new RangeError(`${who}: maxFrameBytes ${n} is outside ${MIN_FRAME_BYTES}..${MAX_SUPPORTED_FRAME_BYTES}`);
  }
  return n;
}

/** Worst-case bytes of one code of a format as a zigzag varint (16-bit codes: 3). */
export function codeBytes(f: { bits: number; signed: boolean }): number {
  return Math.ceil((f.signed ? f.bits : f.bits + 1) / 7);
}

/** Codes of a format that fit one WriteParams or ReadParamsReply in a frame of `maxFrameBytes`. */
export function maxCodesPerFrame(maxFrameBytes: number, f: { bits: number; signed: boolean }): number {
  return Math.max(0, Math.floor((maxFrameBytes - ENVELOPE_BYTES) / codeBytes(f)));
}

interface SizeTopology {
  inputs: number;
  hidden: number;
  outputs: number;
  batch: number;
}
interface SizeFormats {
  input: { bits: number; signed: boolean };
  activity: { bits: number; signed: boolean };
  output: { bits: number; signed: boolean };
}

/** Worst-case bytes of a Run request of `steps` steps. */
export function runRequestBytes(steps: number, t: SizeTopology, f: SizeFormats): number {
  return ENVELOPE_BYTES + 16 + steps * t.batch * t.inputs * codeBytes(f.input);
}

/** Worst-case bytes of a RunReply of `steps` steps (noisy outputs included; hidden trace if asked). */
export function runReplyBytes(steps: number, t: SizeTopology, f: SizeFormats, hiddenTrace: boolean): number {
  const perStep = t.batch * (2 * t.outputs * codeBytes(f.output) + (hiddenTrace ? t.hidden * codeBytes(f.activity) : 0));
  return ENVELOPE_BYTES + 16 + steps * perStep;
}

/** Worst-case bytes of a Reward request for a chunk of `steps` steps. */
export function rewardRequestBytes(steps: number): number {
  return ENVELOPE_BYTES + 32 + 8 * steps;
}

/**
 * Largest chunk (steps) whose Run, RunReply and Reward all fit a frame of
 * `maxFrameBytes`; 0 if not even one step fits. `hiddenTrace` sizes for runs that ask
 * for the hidden trace.
 */
export function maxChunkStepsForFrame(maxFrameBytes: number, t: SizeTopology, f: SizeFormats, hiddenTrace: boolean): number {
  const perRun = t.batch * t.inputs * codeBytes(f.input);
  const perReply = t.batch * (2 * t.outputs * codeBytes(f.output) + (hiddenTrace ? t.hidden * codeBytes(f.activity) : 0));
  const k1 = perRun > 0 ? Math.floor((maxFrameBytes - ENVELOPE_BYTES - 16) / perRun) : Infinity;
  const k2 = perReply > 0 ? Math.floor((maxFrameBytes - ENVELOPE_BYTES - 16) / perReply) : Infinity;
  const k3 = Math.floor((maxFrameBytes - ENVELOPE_BYTES - 32) / 8);
  return Math.max(0, Math.min(k1, k2, k3));
}
