/**
 * Runs one `capsule` CLI command in this process and reports its peak RSS on fd 3, so the
 * benchmark measures the real command, not a library shortcut.
 */
import { writeSync } from 'node:fs';
import { main } from '../agent/cli/main.ts';

const code = await main(process.argv.slice(2));
writeSync(3, JSON.stringify({ code, maxRssKiB: process.resourceUsage().maxRSS }));
process.exitCode = code;
