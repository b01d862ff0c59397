/**
 * The spectral radius of a square matrix (the largest |eigenvalue|), estimated without
 * an eigen-decomposition.
 *
 * R (the recurrent weights) is not symmetric, so its dominant eigenvalues are often a complex
 * pair and plain power iteration does not converge to a vector. What does converge is
 * the growth rate: for almost every start x, ||R^k x||^(1/k) -> rho(R) (Gelfand). We
 * iterate x <- R x / ||R x||, discard a burn-in (transient growth of a non-normal R),
 * and return the geometric mean of ||R x|| over the remaining iterations. The error in
 * log rho falls as O(1/iterations) (an oscillating complex pair contributes a bounded
 * log-ratio spread over all iterations); several eigenvalues of nearly the same modulus,
 * as in random matrices, slow it further and bias the estimate slightly low, hence the
 * default of 400 measured iterations. Cost: (burnIn + iterations) x H^2 multiply-adds.
 */
import { ConfigError } from '../format/fixed.js';
import { key, unitNormal, STREAM_DIAGNOSTICS } from '../model/rng.js';

export interface SpectralOptions {
  /** Iterations measured (default 400). */
  iterations?: number;
  /** Iterations discarded first (default 50). */
  burnIn?: number;
  /** Seed of the start vector (default 0). */
  seed?: number;
}

/** Estimated spectral radius (largest |eigenvalue|) of an n x n row-major matrix; see the file comment. */
export function spectralRadius(m: Float64Array, n: number, opts: SpectralOptions = {}): number {
  if (m.length !== n * n) throw new ConfigError('matrix', `length ${m.length}, expected ${n} x ${n}`);
  const iterations = opts.iterations ?? 400, burnIn = opts.burnIn ?? 50;
  const k = key(opts.seed ?? 0, STREAM_DIAGNOSTICS, n, 0);
  let x = new Float64Array(n), y = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = unitNormal(k, i);
  let logSum = 0;
  for (let it = 0; it < burnIn + iterations; it++) {
    let norm = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += m[i * n + j] * x[j];
      y[i] = s;
      norm += s * s;
    }
    norm = Math.sqrt(norm);
    if (norm === 0) return 0; // nilpotent on this start vector: every eigenvalue it meets is 0
    if (it >= burnIn) logSum += Math.log(norm);
    for (let i = 0; i < n; i++) y[i] /= norm;
    [x, y] = [y, x];
  }
  return Math.exp(logSum / iterations);
}
