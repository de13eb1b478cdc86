// Bundles the browser client (lib/client, without ws) into one ES module for <script type="module">,
// twice: readable (switchyard-client.js) and minified (switchyard-client.min.js, with a source map
// that embeds its sources, so it is complete without the .ts files the package does not ship).
import { build } from 'esbuild';

const common = {
  entryPoints: ['dist/lib/client/index.js'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  logLevel: 'warning',
};

await Promise.all([
  build({ ...common, outfile: 'dist/browser/switchyard-client.js' }),
  build({
    ...common,
    outfile: 'dist/browser/switchyard-client.min.js',
    minify: true,
    sourcemap: true,
    sourcesContent: true,
  }),
]);
