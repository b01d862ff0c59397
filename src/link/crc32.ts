/**
 * CRC-32/ISO-HDLC (the CRC of zlib, PNG, Ethernet and HDLC FCS-32): reflected
 * polynomial 0xEDB88320, initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF.
 * Check value: crc32("123456789") = 0xCBF43926.
 *
 * Table-driven, one byte per step: the same 1 KiB table a firmware port uses, so the
 * two sides can be compared line by line.
 */

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Initial register value; feed it to {@link crc32Update} to start a running CRC. */
export const CRC32_INIT = 0xffffffff;

/**
 * Advance a running CRC register (not yet final-XORed) over `bytes[start, end)`.
 * Start from {@link CRC32_INIT}; finish with {@link crc32Final}.
 */
export function crc32Update(register: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = register;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** Final XOR of a running register: the CRC value as transmitted (uint32). */
export function crc32Final(register: number): number {
  return (register ^ 0xffffffff) >>> 0;
}

/** CRC-32 of `bytes[start, end)` as a uint32. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32Final(crc32Update(CRC32_INIT, bytes, start, end));
}
