#!/usr/bin/env node
import { buildProgram } from './program.js';

// `keygate api list | head -1`: once the reader is gone the rest of the output has nowhere to
// go, which is no failure of the command; end quietly instead of with an EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    console.error(`keygate: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
