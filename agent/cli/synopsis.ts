/**
 * The command table: every command of `capsule` in the order `capsule --help` lists them, each a
 * spec (spec.ts) holding its synopsis — shown in its help and as the hint on usage errors — with
 * its summary, description, options, environment and examples; commands with subcommands are
 * groups of such specs. main.ts dispatches on it, help.ts renders it, args.ts parses with it.
 *
 * Deliberately not here: the specs themselves (specs/*, one file per family of commands) and
 * what the commands do (commands/*). Only data is imported, so `capsule --help` stays fast.
 */
import type { CommandSpec, GroupSpec } from './spec.ts';
import { didYouMean, suggest } from './suggest.ts';
import { UsageError } from '../errors.ts';
import { DECRYPT, INSPECT, KEYGEN, SEAL, VERIFY } from './specs/capsule.ts';
import { LOGIC } from './specs/logic.ts';
import { AGENT, AUDIT, GUARDIAN } from './specs/guardian.ts';
import { APPROVE, CHECKIN, OPEN, SIGN_REQUEST } from './specs/client.ts';
import { WALLET } from './specs/wallet.ts';
import { FETCH, PUBLISH, WATCH } from './specs/ipfs.ts';
import { IMAGE } from './specs/image.ts';
import { DEVICE } from './specs/device.ts';

/** Every command, in the order help lists them. */
export const COMMAND_TABLE = [
  KEYGEN,
  SEAL,
  INSPECT,
  VERIFY,
  DECRYPT,
  LOGIC,
  GUARDIAN,
  AGENT,
  OPEN,
  AUDIT,
  CHECKIN,
  APPROVE,
  SIGN_REQUEST,
  WALLET,
  PUBLISH,
  FETCH,
  WATCH,
  IMAGE,
  DEVICE,
] as const;

/** The name of a command (a group's name for a command with subcommands). */
export type CommandName = (typeof COMMAND_TABLE)[number]['name'];

/** The hint for a missing or unknown command. */
export const COMMANDS_HINT = `commands: ${COMMAND_TABLE.map((c) => c.name).join(', ')}; see capsule --help`;

/**
 * The table's entry for command `name`.
 * @throws UsageError ERR_USAGE naming the command, with the one probably meant
 */
export function findCommand(name: string): CommandSpec | GroupSpec {
  const entry = COMMAND_TABLE.find((c) => c.name === name);
  if (entry) return entry;
  const meant = didYouMean(
    suggest(
      name,
      COMMAND_TABLE.map((c) => c.name),
    ),
  );
  const hint = meant ? `${meant} ${COMMANDS_HINT}` : COMMANDS_HINT;
  throw new UsageError('ERR_USAGE', `unknown command ${JSON.stringify(name)}`, { hint });
}
