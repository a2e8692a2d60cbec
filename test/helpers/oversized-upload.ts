import { request } from 'node:http';

/**
 * Streams a multipart upload of `bytes` of file content (never held in memory) and resolves with the
 * status the API answered and how much had been sent by then, so a caller can tell whether the API
 * refused while the body was still arriving.
 */
export function streamOversizedUpload(
  url: string,
  bytes: number,
  apiKey = 'unused',
): Promise<{ status: number; sentBytes: number; body: string }> {
  const boundary = 'oversized-upload';
  const piece = Buffer.alloc(1024 * 1024, 0x61);
  let sentBytes = 0;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: `Bearer ${apiKey}` },
    });
    req.on('response', (res) => {
      const sentWhenAnswered = sentBytes;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, sentBytes: sentWhenAnswered, body });
        req.destroy();
      });
    });
    req.on('error', (err) => {
      if (sentBytes === 0) reject(err);
    });
    req.write(
      `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n\r\n`,
    );
    const pump = () => {
      while (sentBytes < bytes && !req.destroyed) {
        sentBytes += piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end(`\r\n--${boundary}--\r\n`);
    };
    pump();
  });
}
