/**
 * Pins the webhook address guard on real sockets and the system resolver: a URL is refused when its host
 * is or resolves to a non-public address, and the dispatcher the webhook activity uses refuses to connect
 * to such a host even when nothing checked it before (the check is on the addresses the connection uses).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { ForbiddenTargetError, webhookDispatcher, webhookTargetProblem } from '../../../webhooks/target';

describe('webhookTargetProblem', () => {
  it.each([
    ['https://127.0.0.1/hook', 'the address 127.0.0.1 is not public: loopback'],
    ['https://10.0.0.5/hook', 'the address 10.0.0.5 is not public: private'],
    [
      'https://169.254.169.254/latest/meta-data',
      'the address 169.254.169.254 is not public: link-local (cloud metadata)',
    ],
    ['https://100.100.100.200/', 'the address 100.100.100.200 is not public: shared address space (CGNAT)'],
    ['https://[::1]:8443/hook', 'the address ::1 is not public: loopback'],
    [
      'https://[::ffff:a9fe:a9fe]/',
      'the address ::ffff:a9fe:a9fe is not public: link-local (cloud metadata), embedded in IPv6',
    ],
    ['https://0.0.0.0/', 'the address 0.0.0.0 is not public: unspecified ("this network")'],
    ['https://no-such-host.invalid/hook', "the host 'no-such-host.invalid' does not resolve (ENOTFOUND)"],
    ['http://8.8.8.8/hook', 'expected an HTTPS URL'],
    ['https://user:pass@8.8.8.8/hook', 'credentials in the URL are not allowed'],
  ])('refuses %s', async (url, problem) => {
    expect(await webhookTargetProblem(url, false)).toBe(problem);
  });

  it('refuses a name that resolves to loopback', async () => {
    expect(await webhookTargetProblem('https://localhost:8443/hook', false)).toMatch(
      /^the address localhost \((127\.0\.0\.1|::1)\) is not public: loopback$/,
    );
  });

  it('accepts a public address, and anything well-formed when insecure targets are allowed', async () => {
    expect(await webhookTargetProblem('https://8.8.8.8/hook', false)).toBeNull();
    expect(await webhookTargetProblem('https://[2606:4700:4700::1111]/hook', false)).toBeNull();
    expect(await webhookTargetProblem('http://localhost:9/hook', true)).toBeNull();
  });
});

describe('webhookDispatcher', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('reached'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('will not connect to a host that resolves to a private address', async () => {
    const dispatcher = webhookDispatcher(false);
    const err = await request(`http://localhost:${port}/`, { method: 'POST', dispatcher, body: '{}' }).catch(
      (e: unknown) => e,
    );
    let cause: unknown = err;
    while (cause instanceof Error && !(cause instanceof ForbiddenTargetError)) cause = cause.cause;
    expect(cause).toBeInstanceOf(ForbiddenTargetError);
    expect((cause as Error).message).toMatch(/^the address localhost \((127\.0\.0\.1|::1)\) is not public: loopback$/);
    await dispatcher.close();
  });

  it('connects when insecure targets are allowed', async () => {
    const dispatcher = webhookDispatcher(true);
    const res = await request(`http://localhost:${port}/`, { method: 'POST', dispatcher, body: '{}' });
    expect(await res.body.text()).toBe('reached');
    await dispatcher.close();
  });
});
