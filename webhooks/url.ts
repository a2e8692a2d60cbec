/**
 * Checks a webhook target's form: an absolute http(s) URL, HTTPS unless insecure targets are allowed.
 * Returns what is wrong, or null. (Whether the host is public is checked where DNS can be resolved.)
 */
export function webhookUrlProblem(url: string, allowInsecure: boolean): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'expected an absolute URL';
  }
  if (parsed.username !== '' || parsed.password !== '') return 'credentials in the URL are not allowed';
  if (parsed.protocol === 'https:') return null;
  if (parsed.protocol === 'http:' && allowInsecure) return null;
  return allowInsecure ? 'expected an http or https URL' : 'expected an HTTPS URL';
}
