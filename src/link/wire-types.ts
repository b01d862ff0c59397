/**
 * The messages of proto/anpt.proto as this codebase holds them, derived from the types
 * pbts generates (src/link/generated/anpt.d.ts) rather than written out again:
 *
 * - every scalar field present (the codec decodes with defaults), sub-messages
 *   optional (absent on the wire = undefined);
 * - packed codes as Int32Array and packed doubles as Float64Array (PackedFields; the
 *   codec converts them, and a test checks the list against the schema);
 * - a oneof `body` as a `{ case, value }` pair (Request, Response below).
 *
 * Why static code + pbts (protobufjs' own generator; protobufjs is the project's
 * protobuf library): the encoder, the decoder and these types come out of one pbjs
 * run over the one schema, so they cannot drift apart, and nothing parses the .proto
 * at run time. ts-proto or protoc-gen-es would bring a second runtime and their own
 * conventions for the same bytes.
 */

import type { anpt } from './generated/anpt.js';

/** Fields whose packed numbers the codec turns into typed arrays, by field name. */
export interface PackedFields {
  codes: Int32Array;
  inputs: Int32Array;
  clean: Int32Array;
  noisy: Int32Array;
  hidden: Int32Array;
  deltaLoss: Float64Array;
}

type IsMessage<V> = V extends readonly unknown[] ? false : V extends Uint8Array ? false : V extends object ? true : false;
type FieldValue<K, V> = K extends keyof PackedFields ? (V extends number[] ? PackedFields[K] : V) : V;
type Keys<P> = Exclude<keyof P, '$unknowns' | 'body'>;
type MessageKeys<P> = { [K in Keys<P>]-?: IsMessage<NonNullable<P[K]>> extends true ? K : never }[Keys<P>];

/** A generated `$Properties` type as held here (see the file comment). */
export type Plain<P> = { [K in Exclude<Keys<P>, MessageKeys<P>>]-?: FieldValue<K, NonNullable<P[K]>> } & {
  [K in MessageKeys<P>]?: Plain<NonNullable<P[K]>>;
};

export type Empty = Plain<anpt.v2.Ack.$Properties>;
export type Hello = Plain<anpt.v2.Hello.$Properties>;
export type Limits = Plain<anpt.v2.Limits.$Properties>;
export type HelloReply = Plain<anpt.v2.HelloReply.$Properties>;
export type Topology = Plain<anpt.v2.Topology.$Properties>;
export type FixedFormat = Plain<anpt.v2.FixedFormat.$Properties>;
export type Formats = Plain<anpt.v2.Formats.$Properties>;
export type Noise = Plain<anpt.v2.Noise.$Properties>;
export type Mismatch = Plain<anpt.v2.Mismatch.$Properties>;
export type Configure = Plain<anpt.v2.Configure.$Properties>;
export type WriteParams = Plain<anpt.v2.WriteParams.$Properties>;
export type ReadParams = Plain<anpt.v2.ReadParams.$Properties>;
export type ReadParamsReply = Plain<anpt.v2.ReadParamsReply.$Properties>;
export type Run = Plain<anpt.v2.Run.$Properties>;
export type RunReply = Plain<anpt.v2.RunReply.$Properties>;
export type Reward = Plain<anpt.v2.Reward.$Properties>;
export type ReadConfigReply = Plain<anpt.v2.ReadConfigReply.$Properties>;
export type LinkCounters = Plain<anpt.v2.LinkCounters.$Properties>;
export type StatsReply = Plain<anpt.v2.StatsReply.$Properties>;
/** The wire `Error` message (renamed: `Error` is JavaScript's). */
export type WireError = Plain<anpt.v2.Error.$Properties>;

/** The oneof cases of Request.body (and Response.body, the same names). */
export type CallCase = NonNullable<anpt.v2.Request.$Properties['body']>;

/** Each call: its request body and its reply body, by oneof case name. */
export type Calls = {
  [C in CallCase]: [Plain<NonNullable<anpt.v2.Request.$Properties[C]>>, Plain<NonNullable<anpt.v2.Response.$Properties[C]>>];
};

/** No body: an empty or unknown (newer) request or reply. */
export type NoBody = { case: undefined; value?: undefined };
export type RequestBody = { [C in CallCase]: { case: C; value: Calls[C][0] } }[CallCase] | NoBody;
export type ResponseBody = { [C in CallCase]: { case: C; value: Calls[C][1] } }[CallCase] | NoBody;

export interface Request {
  /** uint32 */
  id: number;
  /** fixed32: the open session (0 = none); required on changing calls. */
  session?: number;
  /** uint32: pipelining, the id of the request sent just before (0 = no condition; on the wire as Request.after_back = id - after). */
  after?: number;
  body: RequestBody;
}

export interface Response {
  /** uint32, the id of the request answered. */
  id: number;
  body: ResponseBody;
  /** Set when the request failed (then body has no case). */
  error?: WireError;
}
