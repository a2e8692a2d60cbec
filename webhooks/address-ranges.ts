/**
 * Which IP addresses a webhook may reach: public unicast only. Pure string and number work (no Node
 * built-ins), so the API and the webhook activity share one table. An address is refused if it is
 * loopback, private, link-local, CGNAT, multicast, unspecified, a cloud metadata address or otherwise
 * reserved, in IPv4, in IPv6, or in IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4).
 */

interface Range4 {
  base: number;
  bits: number;
  reason: string;
}

const V4: Range4[] = [
  r4('0.0.0.0', 8, 'unspecified ("this network")'),
  r4('10.0.0.0', 8, 'private'),
  r4('100.64.0.0', 10, 'shared address space (CGNAT)'),
  r4('127.0.0.0', 8, 'loopback'),
  r4('169.254.0.0', 16, 'link-local (cloud metadata)'),
  r4('172.16.0.0', 12, 'private'),
  r4('192.0.0.0', 24, 'IETF protocol assignments'),
  r4('192.0.2.0', 24, 'documentation'),
  r4('192.88.99.0', 24, '6to4 relay anycast'),
  r4('192.168.0.0', 16, 'private'),
  r4('198.18.0.0', 15, 'benchmarking'),
  r4('198.51.100.0', 24, 'documentation'),
  r4('203.0.113.0', 24, 'documentation'),
  r4('224.0.0.0', 4, 'multicast'),
  r4('240.0.0.0', 4, 'reserved (and broadcast)'),
];

interface Range6 {
  /** The address as eight 16-bit groups. */
  groups: number[];
  bits: number;
  reason: string;
}

const V6: Range6[] = [
  r6('::', 128, 'unspecified'),
  r6('::1', 128, 'loopback'),
  r6('100::', 64, 'discard-only'),
  r6('2001:db8::', 32, 'documentation'),
  r6('2001::', 23, 'IETF protocol assignments'),
  r6('fc00::', 7, 'unique local (private; includes cloud metadata such as fd00:ec2::254)'),
  r6('fe80::', 10, 'link-local'),
  r6('fec0::', 10, 'site-local (deprecated)'),
  r6('ff00::', 8, 'multicast'),
];

/**
 * Why an IP address (v4 dotted quad or v6 text) must not be a webhook target, or null if it is public.
 * Text that is not an IP address is refused too.
 */
export function forbiddenAddressReason(address: string): string | null {
  const v4 = parseIPv4(address);
  if (v4 !== null) return reason4(v4);
  const v6 = parseIPv6(address);
  if (v6 === null) return 'not an IP address';
  // IPv4 inside IPv6: ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64), 2002:ab.cd:: (6to4).
  const embedded = embeddedIPv4(v6);
  if (embedded !== null) {
    const inner = reason4(embedded);
    return inner === null ? null : `${inner}, embedded in IPv6`;
  }
  for (const range of V6) if (inRange6(v6, range)) return range.reason;
  return null;
}

/** True if the text is an IP literal (so DNS is not involved). */
export function isIpLiteral(host: string): boolean {
  return parseIPv4(host) !== null || parseIPv6(host) !== null;
}

function reason4(ip: number): string | null {
  for (const range of V4) {
    if (range.bits === 0 || ip >>> (32 - range.bits) === range.base >>> (32 - range.bits)) return range.reason;
  }
  return null;
}

function inRange6(groups: number[], range: Range6): boolean {
  let bits = range.bits;
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const take = Math.min(16, bits);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if ((groups[i] & mask) !== (range.groups[i] & mask)) return false;
  }
  return true;
}

function embeddedIPv4(g: number[]): number | null {
  const low = ((g[6] << 16) | g[7]) >>> 0;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return low; // ::ffff:0:0/96, mapped
  if (zeros(0, 6) && low > 1) return low; // ::/96, compatible (:: and ::1 are handled as IPv6)
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return low; // 64:ff9b::/96, NAT64
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return low; // 64:ff9b:1::/48, local-use NAT64
  if (g[0] === 0x2002) return ((g[1] << 16) | g[2]) >>> 0; // 2002::/16, 6to4
  return null;
}

/** `a.b.c.d` with decimal octets 0-255 (no leading zeros, which some resolvers read as octal), or null. */
export function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** IPv6 text (with `::`, an embedded dotted quad, brackets or a zone id tolerated) as eight groups, or null. */
export function parseIPv6(text: string): number[] | null {
  let t = text;
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const zone = t.indexOf('%');
  if (zone !== -1) t = t.slice(0, zone);
  if (!/^[0-9a-fA-F:.]+$/.test(t)) return null;
  let tail: number[] = [];
  const lastColon = t.lastIndexOf(':');
  if (t.includes('.')) {
    const v4 = parseIPv4(t.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [v4 >>> 16, v4 & 0xffff];
    // Keep what precedes the quad: `::ffff:` → `::ffff`, `1:2:3:4:5:6:` → `1:2:3:4:5:6`, `::` stays.
    t = t.slice(0, lastColon + 1);
    if (!t.endsWith('::')) t = t.slice(0, -1);
  }
  const halves = t.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (head === null || rest === null) return null;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1) return known === 8 ? [...head, ...tail] : null;
  if (known > 7) return null;
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
}

function r4(address: string, bits: number, reason: string): Range4 {
  return { base: parseIPv4(address) as number, bits, reason };
}

function r6(address: string, bits: number, reason: string): Range6 {
  return { groups: parseIPv6(address) as number[], bits, reason };
}
