/**
 * The Node options the device's unit starts the agent with (boot/capsule-agent.service ExecStart,
 * between `node` and `capsule.js`), so that tests and benchmarks run the agent as a device does.
 * Deliberately not here: the rest of the unit (test/device-service.test.ts checks it with systemd).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** @throws Error when the unit has no `ExecStart=…/node [--flags] …/bin/capsule.js agent` line */
export const UNIT_NODE_ARGS: readonly string[] = (() => {
  const unit = readFileSync(fileURLToPath(new URL('../../boot/capsule-agent.service', import.meta.url)), 'utf8');
  const exec = /^ExecStart=\S*\/node((?: --\S+)*) \S*\/bin\/capsule\.js agent/m.exec(unit);
  if (!exec) throw new Error('boot/capsule-agent.service: no ExecStart=…/node [--flags] …/bin/capsule.js agent line');
  return exec[1]!.trim().split(' ').filter(Boolean);
})();
