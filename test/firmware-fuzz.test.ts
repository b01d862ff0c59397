// A short fuzz run of the C frame decoder and message handler under AddressSanitizer
// and UndefinedBehaviorSanitizer (firmware/tests/fuzz_link.c): 1.5 million random and
// mutated bytes; the driver aborts on a sanitizer report, a crash, a reply that does
// not decode, or a refused request that changed the device state. The long run
// (10 million bytes and libFuzzer) is `npm run fuzz:firmware`.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildFirmware, firmwarePath, missingTools } from './firmware-tools.js';

const missing = missingTools(['make', 'clang', 'nanopb_generator.py']);
if (missing) console.warn(`test/firmware-fuzz.test.ts: skipping: ${missing}`);

describe.skipIf(missing !== undefined)('fuzzing the C link under ASan + UBSan', () => {
  it('1.5 M random and mutated bytes: no crash, no sanitizer report, every refusal left the state unchanged', () => {
    buildFirmware('fuzz');
    const out = execFileSync(firmwarePath('fuzz/fuzz_link'), ['1500000', '7'], { env: { ...process.env, ASAN_OPTIONS: 'abort_on_error=1', UBSAN_OPTIONS: 'halt_on_error=1' } }).toString();
    const r = JSON.parse(out);
    expect(r.bytes).toBeGreaterThanOrEqual(1_500_000);
    expect(r.requests_refused).toBeGreaterThan(100); // refusals were checked, not just garbage dropped
    expect(r.good_frames).toBeGreaterThan(100); // whole frames got through the decoder to the handler
  }, 120_000);
});
