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

// The HTTP-streaming fallback is its own module (it would not fit the main bundle's budget):
// import { httpStream } from './switchyard-http-stream.js' and pass it in `transports`.
const stream = { ...common, entryPoints: ['dist/lib/client/http-stream.js'] };
// The full client (HTTP-streaming fallback, binary payloads, uplink awareness): its own bundle.
const full = { ...common, entryPoints: ['dist/lib/client/full.js'] };

await Promise.all([
  build({ ...common, outfile: 'dist/browser/switchyard-client.js' }),
  build({
    ...common,
    outfile: 'dist/browser/switchyard-client.min.js',
    minify: true,
    sourcemap: true,
    sourcesContent: true,
  }),
  build({ ...stream, outfile: 'dist/browser/switchyard-http-stream.js' }),
  build({
    ...stream,
    outfile: 'dist/browser/switchyard-http-stream.min.js',
    minify: true,
    sourcemap: true,
    sourcesContent: true,
  }),
  build({ ...full, outfile: 'dist/browser/switchyard-client-full.js' }),
  build({
    ...full,
    outfile: 'dist/browser/switchyard-client-full.min.js',
    minify: true,
    sourcemap: true,
    sourcesContent: true,
  }),
]);
