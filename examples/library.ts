// The README's library example (typechecked with the project; run: npx tsx examples/library.ts).
import { loadCity, generateSyntheticCities, buildBank, loadBank, fitPromptSpec, regionPrompts,
  runTransfer, loadConfig } from 'gpd';

const [a, b, c, d] = generateSyntheticCities({ seed: 7 });
// Every bank setting defaults as in the config's `bank` section (`gpd config show`); name only what differs.
await buildBank({ cities: [a, b, c], dir: 'runs/bank', seed: 1, epochs: 30 });
const bank = loadBank('runs/bank');                 // vectors: Float32Array[] in ParamLayout order

const la = loadCity('cities/la-loop.city.json');
const result = await runTransfer({
  config: loadConfig(undefined, ['data.target=cities/la-loop.city.json',
    'data.sources=["cities/shenzhen-sztaxi40.city.json"]']),
  runDir: 'runs/la',
});
console.log(result.methods.gpd?.mae, result.methods.target_only?.mae);
