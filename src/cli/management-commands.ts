import type { Command } from 'commander';
import { registerApiCommands } from './commands/api.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerKeyCommands } from './commands/key.js';
import { registerRootKeyCommands } from './commands/root-key.js';
import { registerTenantCommands } from './commands/tenant.js';

/**
 * Adds every management subcommand (`tenant`, `api`, `key`, `root-key`, `audit`) to the
 * `keygate` program. Each talks to a running server over HTTP; see docs/cli.md.
 *
 * @example
 * registerManagementCommands(buildProgram());
 */
export function registerManagementCommands(program: Command): void {
  registerTenantCommands(program);
  registerApiCommands(program);
  registerKeyCommands(program);
  registerRootKeyCommands(program);
  registerAuditCommands(program);
}
