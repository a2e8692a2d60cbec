/**
 * Pins the webhook address guard: every named kind of non-public address is refused in IPv4, IPv6 and
 * IPv4-in-IPv6 forms, public ones pass, and the parser agrees with Node's own (net.isIP, net.BlockList)
 * on random addresses in every textual form.
 */
import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { forbiddenAddressReason, parseIPv4, parseIPv6 } from '../../../webhooks/address-ranges';

describe('forbiddenAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'CGNAT'],
    ['100.100.100.200', 'CGNAT'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fd00:ec2::254', 'metadata'],
    ['fc00::1', 'unique local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback, embedded'],
    ['::ffff:7f00:1', 'loopback, embedded'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::127.0.0.1', 'loopback, embedded'],
    ['64:ff9b::10.0.0.1', 'private, embedded'],
    ['2002:c0a8:0101::1', 'private, embedded'],
    ['[::1]', 'loopback'],
  ])('refuses %s (%s)', (address, kind) => {
    const reason = forbiddenAddressReason(address);
    expect(reason).not.toBeNull();
    for (const word of kind.split(', ')) expect(reason).toContain(word === 'broadcast' ? 'broadcast' : word);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '2002:0808:0808::1',
  ])('lets public %s through', (address) => {
    expect(forbiddenAddressReason(address)).toBeNull();
  });

  // Where ipaddr.js's own names or parser differ from this guard's answers (see address-ranges.ts).
  it.each([
    ['255.255.255.255', 'reserved (and broadcast)'],
    ['192.0.2.1', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['2001::1', 'IETF protocol assignments'],
    ['2001:db8::1', 'documentation'],
    ['::0.0.0.1', 'loopback'],
    ['::0.0.0.2', 'unspecified ("this network"), embedded in IPv6'],
    ['64:ff9b:1::a00:1', 'private, embedded in IPv6'],
    ['::ffff:01.2.3.4', 'not an IP address'],
    ['::ffff:0x7f.0.0.1', 'not an IP address'],
  ])('answers %s with exactly "%s"', (address, reason) => {
    expect(forbiddenAddressReason(address)).toBe(reason);
  });

  it.each(['192.175.48.1', '192.52.193.1', '::8.8.8.8'])('lets the public %s through', (address) => {
    expect(forbiddenAddressReason(address)).toBeNull();
  });

  it('refuses what is not an address, and octal-looking quads', () => {
    for (const text of ['localhost', '', '1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1::2::3', 'g::1', ':::']) {
      expect(forbiddenAddressReason(text)).not.toBeNull();
    }
  });
});

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const groups = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 });

/** One IPv6 address written in several ways: full, unpadded, compressed at a zero run, mixed case. */
function spellings(g: number[]): string[] {
  const full = g.map((x) => x.toString(16).padStart(4, '0')).join(':');
  const plain = g.map((x) => x.toString(16)).join(':');
  const out = [full, plain, plain.toUpperCase()];
  for (let start = 0; start < 8; start++) {
    for (let end = start + 1; end <= 8; end++) {
      if (g.slice(start, end).every((x) => x === 0)) {
        const head = g
          .slice(0, start)
          .map((x) => x.toString(16))
          .join(':');
        const tail = g
          .slice(end)
          .map((x) => x.toString(16))
          .join(':');
        out.push(`${head}::${tail}`);
      }
    }
  }
  return out;
}

describe('the parsers, against Node', () => {
  it('read IPv4 as Node does', () => {
    fc.assert(
      fc.property(ipv4, (text) => {
        expect(parseIPv4(text)).not.toBeNull();
        expect(isIP(text)).toBe(4);
      }),
    );
  });

  it('read every spelling of an IPv6 address to the same groups, and only what Node calls IPv6', () => {
    fc.assert(
      fc.property(
        groups.map((g) => g.map((x, i) => (i % 3 === 1 ? 0 : x))),
        (g) => {
          for (const text of spellings(g)) {
            expect(isIP(text)).toBe(6);
            expect(parseIPv6(text)?.parts).toEqual(g);
          }
        },
      ),
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789abcdef:.'.split('')), maxLength: 45 }), (text) => {
        if (parseIPv6(text) !== null) expect(isIP(text)).toBe(6);
        if (parseIPv4(text) !== null) expect(isIP(text)).toBe(4);
      }),
    );
  });

  it("classify private IPv4 ranges as Node's BlockList does, directly and mapped into IPv6", () => {
    const blocked = new BlockList();
    for (const [net, bits] of [
      ['10.0.0.0', 8],
      ['127.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
      ['169.254.0.0', 16],
      ['100.64.0.0', 10],
      ['224.0.0.0', 4],
    ] as const) {
      blocked.addSubnet(net, bits, 'ipv4');
    }
    const near = fc.oneof(
      ipv4,
      fc
        .constantFrom('10', '127', '172', '192', '169', '100', '224')
        .chain((a) => fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map((r) => [a, ...r].join('.'))),
    );
    fc.assert(
      fc.property(near, (text) => {
        if (blocked.check(text, 'ipv4')) {
          expect(forbiddenAddressReason(text)).not.toBeNull();
          expect(forbiddenAddressReason(`::ffff:${text}`)).not.toBeNull();
        }
      }),
      { numRuns: 2000 },
    );
  });
});
