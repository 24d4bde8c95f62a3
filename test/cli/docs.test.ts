import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { registerManagementCommands } from '../../src/cli/management-commands.js';

const doc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');

/** Every `keygate <group> <command>`, and every `keygate <command>` without subcommands (`decode`), that takes an action. */
function leafCommands(): string[] {
  const program = new Command('keygate');
  registerManagementCommands(program);
  return program.commands.flatMap((group) =>
    group.commands.length === 0 ? [`keygate ${group.name()}`] : group.commands.map((command) => `keygate ${group.name()} ${command.name()}`),
  );
}

describe('docs/cli.md', () => {
  it('has a section for every management command', () => {
    const documented = [...doc.matchAll(/^### `(keygate [a-z0-9-]+(?: [a-z-]+)?)`$/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(leafCommands().sort());
  });

  it('lists exactly the exit codes of src/cli/exit-codes.ts', () => {
    const table = doc.slice(doc.indexOf('## Exit codes'), doc.indexOf('## Value formats'));
    const codes = [...table.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
    expect(codes).toEqual(Object.values(EXIT_CODES));
  });

  it('documents every connection env var the CLI reads', () => {
    for (const env of ['KEYGATE_URL', 'KEYGATE_ROOT_KEY', 'KEYGATE_TENANT', 'KEYGATE_DEBUG', 'KEYGATE_ISSUER', 'KEYGATE_CLIENT_ID', 'KEYGATE_CLIENT_SECRET']) {
      expect(doc).toContain(env);
    }
  });
});
