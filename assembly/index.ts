// The WASM module's exports: the chip (chip.ts) and the primitives the tests check.
export * from './chip';
export { testOvf, testRshift } from './fixed';
export { testActivate } from './activation';
export { testMix64, testKey, testLowbias32, testGauss } from './rng';
export { setRowSkip } from './batch-outer';
export { setThread, setStallLimit, setDynamicMinWork, threadFailure, deadAddress } from './threads';
