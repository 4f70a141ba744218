/**
 * Run in place of seedChild.ts, through the same door (provision.ts spawnSeedProcess) and the same
 * sandbox, by test/cli-faults.test.ts (D8): tries what a compromised seed process would try and
 * answers on fd 3 with what happened to each attempt ("ok" or the error code).
 * argv[2]: JSON { tcpPort, unixSocket, dataDir, writable, home, parentPid }.
 */
import { readdirSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';

const a = JSON.parse(process.argv[2]!) as { tcpPort: number; unixSocket: string; dataDir: string; writable: string; home: string; parentPid: number };
const out: Record<string, string> = {};

function attempt(name: string, f: () => unknown): void {
  try {
    f();
    out[name] = 'ok';
  } catch (e) {
    out[name] = (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

function dial(name: string, target: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve) => {
    try {
      const s = connect(target as never);
      s.on('connect', () => {
        out[name] = 'ok';
        s.destroy();
        resolve();
      });
      s.on('error', (e: NodeJS.ErrnoException) => {
        out[name] = e.code ?? e.message;
        resolve();
      });
    } catch (e) {
      out[name] = (e as NodeJS.ErrnoException).code ?? String(e);
      resolve();
    }
  });
}

await dial('tcp', { host: '127.0.0.1', port: a.tcpPort });
await dial('unix', { path: a.unixSocket });
attempt('writeDataDirParent', () => writeFileSync(join(dirname(a.dataDir), 'escaped'), 'x'));
attempt('writeDataDir', () => writeFileSync(join(a.dataDir, 'escaped'), 'x'));
attempt('writeAllowed', () => writeFileSync(join(a.writable, 'probe-ok'), 'x'));
attempt('readHome', () => readdirSync(a.home));
attempt('signalParent', () => process.kill(a.parentPid, 0));
out.tmp = readdirSync('/tmp').sort().join(',');
const secret = Buffer.alloc(256);
let n = 0;
try {
  n = readSync(5, secret, 0, 256, null);
} catch {
  n = 0;
}
out.secret = secret.subarray(0, n).toString();
out.envKeys = Object.keys(process.env).sort().join(',');
writeSync(3, JSON.stringify(out));
