/**
 * The message layer of the link, in one import: protocol constants (protocol.ts),
 * message types derived from the generated code (wire-types.ts), the codec (codec.ts)
 * and size bounds (sizes.ts). The schema is proto/anpt.proto; pbjs generates the code
 * from it at build time (package.json build:proto).
 */

export * from './protocol.js';
export * from './wire-types.js';
export * from './codec.js';
export * from './sizes.js';
