/**
 * The architecture rules of src/ (docs/architecture.md), checked by test/architecture.test.ts:
 * no import cycles, and no import from a lower layer up to a higher one. The layers follow the data:
 *
 *   util, runtime -> data -> metrics, models -> baselines -> train -> bank -> prompts -> diffusion
 *   -> config -> transfer -> report -> serve, cluster -> cli -> index.ts
 *
 * A folder may import from its own layer and any layer to its left. index.ts (the library entry)
 * and the CLI sit on top.
 */
const LAYERS = [
  ['util', 'runtime'],
  ['data'],
  ['metrics', 'models'],
  ['baselines'],
  ['train'],
  ['bank'],
  ['prompts'],
  ['diffusion'],
  ['config'],
  ['transfer'],
  ['report'],
  ['serve', 'cluster'],
  ['cli'],
];

const folder = (name) => `^src/${name}/`;
const forbidden = [
  {
    name: 'no-circular',
    comment: 'an import cycle ties modules together so neither can be read, tested or moved alone',
    severity: 'error',
    from: { path: '^src/' },
    to: { circular: true },
  },
  {
    name: 'no-import-of-the-entry',
    comment: 'src/index.ts is the library surface; modules import each other directly',
    severity: 'error',
    from: { path: '^src/', pathNot: '^src/index\\.ts$' },
    to: { path: '^src/index\\.ts$' },
  },
];
LAYERS.forEach((layer, rank) => {
  const higher = LAYERS.slice(rank + 1).flat();
  if (higher.length === 0) return;
  for (const name of layer) {
    forbidden.push({
      name: `layer-${name}`,
      comment: `${name} (layer ${rank}) must not import from a higher layer: ${higher.join(', ')}`,
      severity: 'error',
      from: { path: folder(name) },
      to: { path: `^src/(${higher.join('|')})/` },
    });
  }
});

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
