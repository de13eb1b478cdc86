#!/usr/bin/env node
// The `switchyard` command. Subcommands live in dist/tools/<name>; only `loadtest` exists so far.
const [command, ...args] = process.argv.slice(2);
const usage =
  'Usage: switchyard loadtest [options]   (switchyard loadtest --help for the options)\n       switchyard --version\n';

if (command === 'loadtest') {
  const { main } = await import('../dist/tools/loadtest/cli.js');
  process.exitCode = await main(args);
} else if (command === '--version' || command === '-v') {
  const { VERSION } = await import('../dist/tools/loadtest/cli.js');
  process.stdout.write(`switchyard ${VERSION}\n`);
} else if (command === undefined || command === '-h' || command === '--help') {
  process.stdout.write(usage);
} else {
  process.stderr.write(`switchyard: unknown command ${JSON.stringify(command)}\n${usage}`);
  process.exitCode = 2;
}
