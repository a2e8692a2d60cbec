import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Which IP addresses a webhook may reach: public unicast only. An address is refused if it is loopback,
 * private, link-local, CGNAT, multicast, unspecified, a cloud metadata address or otherwise reserved, in
 * IPv4, in IPv6, or in IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4). ipaddr.js parses the
 * addresses and matches them; which ranges are refused, and the reason a client is told, are ours.
 */

/** What subnetMatch answers for an address in no refused range. */
const PUBLIC = '';

// Our table, not ipaddr.js's range() names: those are coarser than the reasons clients see ('reserved' is
// documentation, benchmarking, 240/4, 2001::/23 and more), and name ranges that are public here (AS112 and
// AMT anycast, ::ffff:0:0:0/96, 5f00::/16, 3fff::/20, 2620:4f:8000::/48); a minor release may add more.
const REFUSED = rangeList({
  'unspecified ("this network")': ['0.0.0.0/8'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
  'shared address space (CGNAT)': ['100.64.0.0/10'],
  loopback: ['127.0.0.0/8', '::1/128'],
  'link-local (cloud metadata)': ['169.254.0.0/16'],
  'IETF protocol assignments': ['192.0.0.0/24', '2001::/23'],
  documentation: ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32'],
  '6to4 relay anycast': ['192.88.99.0/24'],
  benchmarking: ['198.18.0.0/15'],
  multicast: ['224.0.0.0/4', 'ff00::/8'],
  'reserved (and broadcast)': ['240.0.0.0/4'],
  unspecified: ['::/128'],
  'discard-only': ['100::/64'],
  'unique local (private; includes cloud metadata such as fd00:ec2::254)': ['fc00::/7'],
  'link-local': ['fe80::/10'],
  'site-local (deprecated)': ['fec0::/10'],
});

/**
 * Why an IP address (v4 dotted quad or v6 text) must not be a webhook target, or null if it is public.
 * Text that is not an IP address is refused too.
 */
export function forbiddenAddressReason(address: string): string | null {
  const v4 = parseIPv4(address);
  if (v4 !== null) return refusal(v4);
  const v6 = parseIPv6(address);
  if (v6 === null) return 'not an IP address';
  const embedded = embeddedIPv4(v6);
  if (embedded !== null) {
    const inner = refusal(embedded);
    return inner === null ? null : `${inner}, embedded in IPv6`;
  }
  return refusal(v6);
}

/** True if the text is an IP literal (so DNS is not involved). */
export function isIpLiteral(host: string): boolean {
  return parseIPv4(host) !== null || parseIPv6(host) !== null;
}

/** `a.b.c.d` with decimal octets 0-255 (no leading zeros, which some resolvers read as octal), or null. */
export function parseIPv4(text: string): ipaddr.IPv4 | null {
  return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : null;
}

/** IPv6 text (with `::`, an embedded dotted quad, brackets or a zone id tolerated), or null. */
export function parseIPv6(text: string): ipaddr.IPv6 | null {
  let t = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = t.indexOf('%');
  if (zone !== -1) t = t.slice(0, zone);
  // Node says what is an address: ipaddr.js also reads `::ffff:01.2.3.4` and `::ffff:0x1.2.3.4`.
  if (isIP(t) !== 6) return null;
  // ipaddr.js reads `::a.b.c.d` as `::ffff:a.b.c.d`; `0::a.b.c.d` is the address as written.
  return ipaddr.IPv6.parse(/^::[\d.]+$/.test(t) ? `0${t}` : t);
}

function refusal(address: ipaddr.IPv4 | ipaddr.IPv6): string | null {
  const reason = ipaddr.subnetMatch(address, REFUSED, PUBLIC);
  return reason === PUBLIC ? null : reason;
}

/** The IPv4 address inside an IPv6 one: mapped, compatible, NAT64 or 6to4; null for any other. */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  const g = address.parts;
  switch (address.range()) {
    case 'ipv4Mapped': // ::ffff:0:0/96
      return address.toIPv4Address();
    case 'rfc6052': // NAT64: 64:ff9b::/96 and the local-use 64:ff9b:1::/48
      return ipv4(g[6], g[7]);
    case '6to4': // 2002::/16
      return ipv4(g[1], g[2]);
  }
  // ::/96, IPv4-compatible (deprecated, so without a name in ipaddr.js); :: and ::1 are handled as IPv6.
  if (g.slice(0, 6).every((x) => x === 0) && (g[6] !== 0 || g[7] > 1)) return ipv4(g[6], g[7]);
  return null;
}

function ipv4(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function rangeList(ranges: Record<string, string[]>): Parameters<typeof ipaddr.subnetMatch>[1] {
  return Object.fromEntries(
    Object.entries(ranges).map(([reason, cidrs]) => [reason, cidrs.map((cidr) => ipaddr.parseCIDR(cidr))]),
  );
}
