import { isBlank } from './jsonl/line-reader';
import type { RawLine } from './jsonl/line-reader';

/**
 * The lines of a chunk, read a stream piece at a time and taken one by one: a line comes without a promise
 * while its piece lasts, and the loops that find the piece used up wait together for the next one.
 */
export class LineSource {
  private batch: RawLine[] = [];
  private at = 0;
  private reading: Promise<boolean> | null = null;
  private done = false;

  constructor(private readonly batches: AsyncGenerator<RawLine[]>) {}

  /** The next request line if its piece is read; undefined when {@link more} must read first. */
  take(): { end: number; text: string } | undefined {
    while (this.at < this.batch.length) {
      const raw = this.batch[this.at++];
      if (!isBlank(raw.bytes)) return { end: raw.end, text: raw.bytes.toString('utf8') };
    }
    return undefined;
  }

  /** Reads the next piece; false when the chunk has no more. Loops that call it at once share the read. */
  more(): Promise<boolean> {
    if (this.done) return Promise.resolve(false);
    this.reading ??= this.batches.next().then((next) => {
      this.reading = null;
      if (next.done === true) {
        this.done = true;
        return false;
      }
      this.batch = next.value;
      this.at = 0;
      return true;
    });
    return this.reading;
  }

  async close(): Promise<void> {
    await this.batches.return(undefined);
  }
}
