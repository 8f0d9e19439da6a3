// The README's library example (typechecked with the project; run: npx tsx examples/library.ts).
import { loadCity, generateSyntheticCities, buildBank, loadBank, fitPromptSpec, regionPrompts,
  runTransfer, loadConfig } from 'gpd';

const [a, b, c, d] = generateSyntheticCities({ seed: 7 });
await buildBank({ cities: [a, b, c], model: 'stgcn', epochs: 30, batchSize: 64, lr: 3e-3,
  weightDecay: 0, patience: 10, groupSize: 4, workers: 2, seed: 1, init: 'warm', out: 'runs/bank' });
const bank = loadBank('runs/bank');                 // vectors: Float32Array[] in ParamLayout order

const la = loadCity('cities/la-loop.city.json');
const result = await runTransfer({
  config: loadConfig(undefined, ['data.target=cities/la-loop.city.json',
    'data.sources=["cities/shenzhen-sztaxi40.city.json"]']),
  runDir: 'runs/la',
});
console.log(result.methods.gpd?.mae, result.methods.target_only?.mae);
