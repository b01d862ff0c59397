/**
 * Learning defaults shared by `anpt train` (src/cli/defaults.ts) and the sweep's
 * float baseline (src/sweep/methods.ts), so that the two train ANP-T on the float
 * model the same way.
 */

/**
 * Spectral-radius cap of R for ANP-T on the float model, checked every
 * SPECTRAL_EVERY_STEPS steps: chosen by the tuning of scripts/results.ts
 * (docs/results.md: validation 7.6e-4 with the cap vs 2.3e-3 without), because
 * Xavier-initialised R starts at a spectral radius of about 1.05.
 */
export const FLOAT_ANPT_SPECTRAL_CAP = 0.95;

/** How often the spectral cap reads R (steps). */
export const SPECTRAL_EVERY_STEPS = 100;

/**
 * Decay lambda of the eligibility traces per step (--trace-decay): the issue's
 * prototype value (innovation trace, lambda 0.9: cosine 0.79-0.96 to the full gradient).
 */
export const TRACE_DECAY = 0.9;

/**
 * A validation set is the task drawn again with data seed + this (the scripts' tuning
 * and `anpt train --rollback`): independent sequences, never the test set.
 */
export const VALIDATION_SEED_OFFSET = 7919;
