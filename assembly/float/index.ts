// The float model's WASM module (build/anpt-float.wasm; the threads build
// build/anpt-float-threads.wasm): binary64 step and update of
// src/model/float-device.ts with the same bits, loaded by src/model/float-wasm.ts.
// The threads build splits the rows over instances sharing one memory
// (src/model/float-threads.ts starts them; ../threads.ts holds the meeting code).
export { layout, forget, ptr, B_W, B_R, B_V, B_CLEAN, B_NOISY, B_EW, B_ER, B_GAIN, B_OFFSET, B_BH, B_BO, B_EB, B_INPUTS, B_OUT_CLEAN, B_OUT_NOISY, B_HIDDEN, B_STATES, B_DA, B_DY, B_DL } from './layout';
export { run, reward, sync, serveNext, shareLayout, stopThreads, OK, ERR_THREAD } from './step';
export { tanhScalar, tanhArray } from './tanh';
export { setThread, setStallLimit, setTailDelay, threadFailure, deadAddress } from '../threads';
