/**
 * Import rules checked by `npm test` (test/layering.test.ts) with dependency-cruiser
 * (chosen over madge: cycles, layer back-edges and reachability in one config).
 * Rules name every edge they forbid; nothing is excluded.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, counting type-only and dynamic imports: a module must be readable after what it imports.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-cli-from-below',
      severity: 'error',
      comment: 'src/cli/ is the top layer: the library below it (devices, learning, link, sweep, report) never imports it.',
      from: { path: '^(src/(?!cli/)|firmware-sim/)' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'trainer-device-agnostic',
      severity: 'error',
      comment: 'The ANP-T trainer works through the Device interface: it must not load the float model, BPTT or the gradient diagnostics, even indirectly.',
      from: { path: '^src/learn/anpt\\.ts$' },
      to: { path: '^src/(model/float-device|learn/bptt|learn/diagnostics|link/)', reachable: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
