/** CIDR blocks for secret_id_bound_cidrs, a secret ID's cidr_list and token_bound_cidrs (node:net BlockList). */
import { BlockList, isIP } from 'node:net';
import { badRequest } from '../../lib/errors.ts';

interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128). Null if it is not one. */
function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return null;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const bits = version === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: bits, family };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  return prefix <= bits ? { address, prefix, family } : null;
}

/** Validates a CIDR list from the request; the 400 names the field and the first bad entry. */
export function validateCidrs(list: readonly string[], field: string): string[] {
  for (const item of list) {
    if (!parseCidr(item)) throw badRequest(`${field}: "${item.slice(0, 64)}" is not a CIDR block such as "10.0.0.0/8"`);
  }
  return [...list];
}

function blockListOf(cidrs: readonly Cidr[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) list.addSubnet(c.address, c.prefix, c.family);
  return list;
}

const parsed = (list: readonly string[]): Cidr[] => list.map(parseCidr).filter((c): c is Cidr => c !== null);

/** Every block of `inner` lies inside some block of `outer` (an empty `outer` allows anything). */
export function isCidrSubset(inner: readonly string[], outer: readonly string[]): boolean {
  if (outer.length === 0) return true;
  const outerBlocks = parsed(outer);
  return parsed(inner).every((i) =>
    outerBlocks.some((o) => o.family === i.family && i.prefix >= o.prefix && blockListOf([o]).check(i.address, i.family)),
  );
}

/** Whether the client address lies in one of the blocks. IPv4-mapped IPv6 addresses count as IPv4. */
export function addressAllowed(remoteAddress: string, cidrs: readonly string[]): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  const address = mapped?.[1] ?? remoteAddress;
  const version = isIP(address);
  if (version === 0) return false;
  return blockListOf(parsed(cidrs)).check(address, version === 4 ? 'ipv4' : 'ipv6');
}
