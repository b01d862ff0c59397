#!/usr/bin/env node
// Writes a C header with the tanh table of assembly/tanh-table.ts, so the C yardstick
// (bench/c/step.c) and the WASM emulator read the very same 513 numbers.
// Usage: node bench/c/gen-tanh-header.mjs assembly/tanh-table.ts bench/out/tanh_table.h
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const [src, dst] = process.argv.slice(2);
if (!src || !dst) {
  console.error('usage: gen-tanh-header.mjs <tanh-table.ts> <out.h>');
  process.exit(2);
}
const text = readFileSync(src, 'utf8');
const m = /TANH_TABLE[^=]*=\s*\[([^\]]*)\]/.exec(text);
if (!m) {
  console.error(`${src}: no "TANH_TABLE ... = [ ... ]" array literal found`);
  process.exit(1);
}
const T = m[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);

// Sanity checks only (the numbers themselves are copied, never recomputed).
const fail = (msg) => { console.error(`${src}: ${msg}`); process.exit(1); };
if (T.length !== 513) fail(`expected 513 entries, found ${T.length}`);
T.forEach((v, k) => {
  if (!Number.isInteger(v) || v < 0 || v > 32767) fail(`T[${k}] = ${v} is not a Q0.15 code in 0..32767`);
  if (k > 0 && v < T[k - 1]) fail(`T[${k}] = ${v} < T[${k - 1}] = ${T[k - 1]}: not monotonic`);
  // Within one code of tanh(k/64)*32768 (libm may differ in the last ulp; the table is the reference).
  const ref = Math.min(32767, Math.round(Math.tanh(k / 64) * 32768));
  if (Math.abs(v - ref) > 1) fail(`T[${k}] = ${v} is far from tanh(${k}/64)*32768 = ${ref}`);
});

const rows = [];
for (let i = 0; i < T.length; i += 16) rows.push('  ' + T.slice(i, i + 16).join(', ') + ',');
const out = `/* Generated from ${src} by bench/c/gen-tanh-header.mjs. Do not edit.
 * T[k] = nearest_even(tanh(k/64) * 32768) clamped to 32767, k = 0..512 (docs/kernel.md). */
#ifndef ANPT_TANH_TABLE_H
#define ANPT_TANH_TABLE_H
#include <stdint.h>
#define TANH_TABLE_LEN 513
static const int16_t TANH_TABLE[TANH_TABLE_LEN] = {
${rows.join('\n')}
};
#endif
`;
mkdirSync(dirname(dst), { recursive: true });
writeFileSync(dst, out);
