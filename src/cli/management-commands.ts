import type { Command } from 'commander';
import { registerApiCommands } from './commands/api.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerClientCommands } from './commands/client.js';
import { registerConsumerCommands } from './commands/consumer.js';
import { registerDecode } from './commands/decode.js';
import { registerHs256SecretCommands } from './commands/hs256-secret.js';
import { registerKeyCommands } from './commands/key.js';
import { registerOperatorCommands } from './commands/operator.js';
import { registerRootKeyCommands } from './commands/root-key.js';
import { registerSigningKeyCommands } from './commands/signing-key.js';
import { registerTenantCommands } from './commands/tenant.js';
import { registerTokenCommands } from './commands/token.js';
import { registerUsageCommand } from './commands/usage.js';
import { registerUserCommands } from './commands/user.js';

/**
 * Adds every management subcommand (`tenant`, `api`, `user`, `key`, `root-key`, `operator`, `audit`, `usage`,
 * `client`, `token`, `consumer`, `signing-key`, `hs256-secret`) and `decode` to the `keygate` program.
 * Each talks to a running server over HTTP; see docs/cli.md.
 *
 * @example
 * registerManagementCommands(buildProgram());
 */
export function registerManagementCommands(program: Command): void {
  registerTenantCommands(program);
  registerApiCommands(program);
  registerUserCommands(program);
  registerKeyCommands(program);
  registerRootKeyCommands(program);
  registerOperatorCommands(program);
  registerAuditCommands(program);
  registerUsageCommand(program);
  registerClientCommands(program);
  registerTokenCommands(program);
  registerConsumerCommands(program);
  registerSigningKeyCommands(program);
  registerHs256SecretCommands(program);
  registerDecode(program);
}
