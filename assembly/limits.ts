// The emulator's size limits, written once: the kernel (configure in chip.ts) refuses
// a configuration beyond them, and the host (src/device/emulator.ts) imports this same
// file to announce and check them. Plain constants that both AssemblyScript and
// TypeScript compile (an integer literal is an i32 in AssemblyScript).

export const MAX_INPUTS = 4096;
export const MAX_HIDDEN = 4096;
export const MAX_OUTPUTS = 4096;
/**
 * Sequences run side by side. Sizes the per-step rounding keys (step.ts) and keeps the
 * update's mantissas M = 14 - ceil(log2 B) at 6 bits or more.
 */
export const MAX_BATCH = 256;
/** Steps of one chunk: the traces of layout.ts hold this many. */
export const MAX_CHUNK_STEPS = 65536;
