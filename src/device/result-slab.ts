/**
 * Float64Arrays for results, cut from shared slabs. V8 gives a typed array of more than
 * 64 bytes its own off-heap backing store, which costs about 1.3 us to allocate here; an
 * online step at B = 10 returns two such arrays (clean and noisy outputs, 80 bytes each),
 * so that was a few percent of an emulator epoch. A view of a 64 KiB slab costs about
 * 0.1 us. Every array handed out is still a fresh one: no two overlap and none is reused
 * (a full slab is left to the arrays cut from it and a new one started); only their
 * .buffer is shared, and larger arrays get their own.
 */
const SLAB_BYTES = 65536;

export class ResultSlab {
  private buf = new ArrayBuffer(SLAB_BYTES);
  private used = 0;

  /** A new zeroed Float64Array of n values. */
  take(n: number): Float64Array {
    const bytes = n * 8;
    if (bytes > SLAB_BYTES / 8) return new Float64Array(n);
    if (this.used + bytes > SLAB_BYTES) {
      this.buf = new ArrayBuffer(SLAB_BYTES);
      this.used = 0;
    }
    const a = new Float64Array(this.buf, this.used, n);
    this.used += bytes;
    return a;
  }
}
