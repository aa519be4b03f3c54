/**
 * The virtual file system over WebDAV (RFC 4918, class 1, read-only), so Finder, Windows
 * Explorer, rclone or a browser can open it: OPTIONS, PROPFIND (depth 0 and 1), GET with
 * a byte range, HEAD. Every method that would change something answers 405.
 * WebDAV has no symlinks: links are followed, and links that lead nowhere are left out.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { lookupFollowing, Vfs, VfsError, VNode } from './vfs.js';

export interface WebDavOptions {
  host: string;
  port: number;
  /** Basic auth; no auth when absent. */
  auth?: { user: string; password: string };
}

const ALLOW = 'OPTIONS, GET, HEAD, PROPFIND';
const STREAM_PIECE = 1024 * 1024;

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range) against a size; undefined = ignore the header (serve it all); null = unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined | null {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // several ranges or nonsense: a full answer is allowed
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return null;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return null;
  return { start, end };
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function hrefOf(path: string, isDir: boolean): string {
  const enc = path.split('/').map(encodeURIComponent).join('/');
  return isDir && !enc.endsWith('/') ? `${enc}/` : enc;
}

function etagOf(n: VNode): string {
  const key = n.data?.type === 'blobs' ? n.data.content.join('') : n.data?.type === 'image' ? n.data.ref.id : `${n.ino}`;
  return `"${createHash('sha256').update(`${key}:${n.size}:${n.mtimeMs}`).digest('hex').slice(0, 32)}"`;
}

function propResponse(path: string, n: VNode): string {
  const isDir = n.kind === 'dir';
  const name = path.split('/').filter(Boolean).pop() ?? '';
  const props = [
    `<D:displayname>${xmlEscape(name)}</D:displayname>`,
    isDir ? '<D:resourcetype><D:collection/></D:resourcetype>' : '<D:resourcetype/>',
    `<D:getlastmodified>${new Date(n.mtimeMs).toUTCString()}</D:getlastmodified>`,
    `<D:creationdate>${new Date(n.ctimeMs).toISOString()}</D:creationdate>`,
  ];
  if (!isDir) {
    props.push(`<D:getcontentlength>${n.size}</D:getcontentlength>`, '<D:getcontenttype>application/octet-stream</D:getcontenttype>', `<D:getetag>${etagOf(n)}</D:getetag>`);
  }
  return `<D:response><D:href>${xmlEscape(hrefOf(path, isDir))}</D:href><D:propstat><D:prop>${props.join('')}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>`;
}

function statusFor(err: unknown): number {
  if (err instanceof VfsError) return err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 404 : err.code === 'EINVAL' ? 400 : 500;
  return 500;
}

/** The decoded path of a request URL; undefined when it is malformed. */
function requestPath(url: string | undefined): string | undefined {
  try {
    return decodeURIComponent(new URL(url ?? '/', 'http://x').pathname);
  } catch {
    return undefined;
  }
}

function authorized(req: http.IncomingMessage, auth: WebDavOptions['auth']): boolean {
  if (!auth) return true;
  const m = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1], 'base64');
  const want = Buffer.from(`${auth.user}:${auth.password}`);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function webdavHandler(vfs: Vfs, auth?: WebDavOptions['auth']) {
  return async (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.setHeader('DAV', '1');
    res.setHeader('MS-Author-Via', 'DAV');
    if (!authorized(req, auth)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="cairn", charset="UTF-8"' }).end('authentication required\n');
      return;
    }
    const path = requestPath(req.url);
    if (path === undefined) {
      res.writeHead(400).end('bad path\n');
      return;
    }
    try {
      switch (req.method) {
        case 'OPTIONS':
          res.writeHead(200, { Allow: ALLOW, 'Content-Length': 0 }).end();
          return;
        case 'PROPFIND':
          await propfind(vfs, path, req, res);
          return;
        case 'GET':
        case 'HEAD':
          await get(vfs, path, req, res);
          return;
        default:
          res.writeHead(405, { Allow: ALLOW }).end('this WebDAV share is read-only\n');
      }
    } catch (err) {
      if (res.headersSent) {
        res.destroy(err as Error);
        return;
      }
      const status = statusFor(err);
      if (status === 500) process.stderr.write(`webdav: ${req.method} ${path}: ${(err as Error).message}\n`);
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  };
}

async function propfind(vfs: Vfs, path: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  req.resume(); // the body (which properties) is ignored: every response carries all of them
  const depth = String(req.headers.depth ?? 'infinity');
  if (depth !== '0' && depth !== '1') {
    res.writeHead(403, { 'Content-Type': 'application/xml; charset=utf-8' }).end('<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>\n');
    return;
  }
  const { node } = await lookupFollowing(vfs, path);
  const base = path.endsWith('/') || path === '' ? path.replace(/\/+$/, '') : path;
  const parts = [propResponse(base || '/', node)];
  if (depth === '1' && node.kind === 'dir') {
    for (const [name, child] of await vfs.readdir(node)) {
      const childPath = `${base}/${name}`;
      let shown = child;
      if (child.kind === 'symlink') {
        try {
          shown = (await lookupFollowing(vfs, childPath)).node;
        } catch {
          continue;
        }
      }
      if (shown.kind !== 'file' && shown.kind !== 'dir') continue;
      parts.push(propResponse(childPath, shown));
    }
  }
  const body = `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">${parts.join('\n')}</D:multistatus>\n`;
  res.writeHead(207, { 'Content-Type': 'application/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

async function get(vfs: Vfs, path: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { node } = await lookupFollowing(vfs, path);
  if (node.kind === 'dir') {
    const rows = [...(await vfs.readdir(node)).entries()].map(([name, c]) => {
      const href = encodeURIComponent(name) + (c.kind === 'dir' ? '/' : '');
      return `<li><a href="${xmlEscape(href)}">${xmlEscape(name)}${c.kind === 'dir' ? '/' : ''}</a></li>`;
    });
    const body = `<!doctype html><meta charset="utf-8"><title>${xmlEscape(path)}</title><h1>${xmlEscape(path)}</h1><ul>${rows.join('')}</ul>\n`;
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const handle = vfs.open(node);
  const range = parseRange(req.headers.range, node.size);
  const headers: http.OutgoingHttpHeaders = {
    'Accept-Ranges': 'bytes',
    'Content-Type': 'application/octet-stream',
    'Last-Modified': new Date(node.mtimeMs).toUTCString(),
    ETag: etagOf(node),
  };
  if (range === null) {
    res.writeHead(416, { ...headers, 'Content-Range': `bytes */${node.size}` }).end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? node.size - 1;
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${node.size}`;
  res.writeHead(range ? 206 : 200, { ...headers, 'Content-Length': end - start + 1 });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  let closed = false;
  res.on('close', () => (closed = true));
  for (let pos = start; pos <= end && !closed; ) {
    const piece = await handle.read(pos, Math.min(STREAM_PIECE, end + 1 - pos));
    if (piece.length === 0) throw new Error(`${path}: content ends at ${pos}, before its size ${node.size}`);
    pos += piece.length;
    if (!res.write(piece)) await new Promise((r) => res.once('drain', r).once('close', r));
  }
  res.end();
}

export interface Served {
  port: number;
  close(): Promise<void>;
}

export async function serveWebDav(vfs: Vfs, opts: WebDavOptions): Promise<Served> {
  const handler = webdavHandler(vfs, opts.auth);
  const server = http.createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
