/**
 * Client keys from a connection's remote address, for rate limits and fair scheduling: one IPv4
 * address is one client, an IPv6 address is folded to its /64 (one host or home network gets a
 * whole /64, so finer keys would let it be many clients); IPv4-mapped IPv6 (::ffff:a.b.c.d) is the
 * IPv4 address. The network key groups an IPv4 /24 or an IPv6 /64.
 *
 * Deliberately not here: what the keys are used for (RateLimiter.ts, the decision scheduler).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The eight 16-bit groups of an IPv6 address (zone dropped, embedded IPv4 converted), or undefined. */
function groups6(address: string): number[] | undefined {
  const a = address.split('%')[0]!;
  if (!isIPv6(a)) return undefined;
  let text = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = a.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
  const all = [...h, ...fill, ...t].map((g) => parseInt(g, 16));
  return all.length === 8 && all.every((g) => g >= 0 && g <= 0xffff) ? all : undefined;
}

/** IPv4 (also from ::ffff:a.b.c.d), or undefined. */
function ipv4Of(address: string): string | undefined {
  if (isIPv4(address)) return address;
  const g = groups6(address);
  if (g && g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  return undefined;
}

/** The client key: the IPv4 address, or the IPv6 /64 as "xxxx:xxxx:xxxx:xxxx::/64"; "?" if unknown. */
export function clientKey(address: string | undefined): string {
  if (!address) return '?';
  const v4 = ipv4Of(address);
  if (v4) return v4;
  const g = groups6(address);
  return g
    ? `${g
        .slice(0, 4)
        .map((x) => x.toString(16))
        .join(':')}::/64`
    : '?';
}

/** The network key: the IPv4 /24 as "a.b.c.0/24", or the IPv6 /64 (as clientKey). */
export function networkKey(address: string | undefined): string {
  if (!address) return '?';
  const v4 = ipv4Of(address);
  if (v4) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  return clientKey(address);
}
