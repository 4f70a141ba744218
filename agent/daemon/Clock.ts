/**
 * Where the guardian's "now" comes from, injected: the system clock, the security module's RTC
 * (where present), or — for tests and rehearsals — a file holding milliseconds since the epoch,
 * read on every call so a test can move time forward while the agent runs.
 *
 * A clock that cannot answer throws AgentError ERR_UNAVAILABLE: no decision is made without a time.
 */
import { readFile } from 'node:fs/promises';
import { AgentError } from '../errors.ts';

export interface Clock {
  readonly kind: string;
  now(): Promise<number>;
}

export const systemClock: Clock = { kind: 'system', now: async () => Date.now() };

export function moduleClock(time: () => Promise<number>): Clock {
  return {
    kind: 'module',
    async now() {
      try {
        return (await time()) * 1000;
      } catch (cause) {
        throw new AgentError('ERR_UNAVAILABLE', 'clock: the security module did not give the time', {
          cause,
          hint: 'check the module (zkifc); the agent decides nothing without a time',
        });
      }
    },
  };
}

export function fileClock(path: string): Clock {
  return {
    kind: `file ${path}`,
    async now() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (cause) {
        throw new AgentError('ERR_UNAVAILABLE', `clock: cannot read ${path}`, { cause });
      }
      const ms = Number(text.trim());
      if (!Number.isSafeInteger(ms) || ms < 0) throw new AgentError('ERR_UNAVAILABLE', `clock: ${path} does not hold milliseconds since the epoch`);
      return ms;
    },
  };
}
