import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import type { FileService } from '../file-service';
import { FileListParams, toFileObject } from '../schemas/file';
import type { FileDeleted } from '../schemas/file';
import { toCursorPage } from '../schemas/pagination';
import { parseParams } from '../schemas/parse';
import { methodNotAllowed } from './method-not-allowed';

/** `/v1/files`: upload (multipart, streamed), list, retrieve, content, delete. */
export function filesRouter(files: FileService): Router {
  const router = Router();

  router
    .route('/v1/files')
    .post(async function createFile(req, res) {
      const record = await files.upload(req, res.locals.owner);
      res.json(toFileObject(record));
    })
    .get(async function listFiles(req, res) {
      const params = parseParams(FileListParams, req.query);
      const page = await files.list(res.locals.owner, params);
      res.json(toCursorPage(page.data.map(toFileObject), page.hasMore));
    })
    .all(methodNotAllowed);

  router
    .route('/v1/files/:file_id')
    .get(async function retrieveFile(req, res) {
      res.json(toFileObject(await files.load(req.params.file_id, res.locals.owner)));
    })
    .delete(async function deleteFile(req, res) {
      await files.remove(req.params.file_id, res.locals.owner);
      const body: FileDeleted = { id: req.params.file_id, object: 'file', deleted: true };
      res.json(body);
    })
    .all(methodNotAllowed);

  router
    .route('/v1/files/:file_id/content')
    .get(async function retrieveFileContent(req, res) {
      // Raw bytes whatever `Accept` says: the SDKs send `application/binary`, older ones `application/json`.
      const { record, stream } = await files.content(req.params.file_id, res.locals.owner);
      res.status(200);
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('content-length', String(record.file.bytes));
      res.setHeader('content-disposition', contentDisposition(record.file.filename));
      try {
        await pipeline(stream, res);
      } catch (err) {
        // The client hung up before the last byte: there is nobody to answer, and nothing went wrong here.
        if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
        throw err;
      }
    })
    .all(methodNotAllowed);

  return router;
}

/** `attachment` with an ASCII fallback name and the real one per RFC 6266 (header values must be Latin-1). */
function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
