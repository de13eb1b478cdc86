// Bundles the browser client (lib/client, without ws) into one ES module for <script type="module">.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/lib/client/index.js'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  outfile: 'dist/browser/switchyard-client.js',
  sourcemap: true,
  logLevel: 'warning',
});
