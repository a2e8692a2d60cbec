/** Types of scripts/setup.js (plain CommonJS, so that it runs before `npm ci`). */
export class SetupError extends Error {}
type Say = (message: string) => void;
export function ensureNpmPackages(say?: Say): void;
export function ensureTemporalCli(say?: Say): string;
export function ensureFakeGcs(say?: Say): string;
export function ensurePythonTestVenv(say?: Say): string;
export function ensureChromium(say?: Say): string;
export function findExecutable(name: string): string | null;
