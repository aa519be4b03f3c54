/**
 * Trees: one blob per directory, serialized canonically (entries sorted by raw name bytes,
 * fixed field order, absent fields omitted) so identical directories get identical ids.
 */

export type NodeType = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

export interface TreeNode {
  /** The name as UTF-8 text; when the raw bytes are not valid UTF-8, see nameRaw. */
  name: string;
  /** base64 of the raw name bytes, only when they are not valid UTF-8. */
  nameRaw?: string;
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  mtime: string;
  atime: string;
  ctime: string;
  size: number;
  inode: number;
  device: number;
  links: number;
  linkTarget?: string;
  linkTargetRaw?: string;
  /** Device number of a chardev/blockdev node (st_rdev). */
  rdev?: number;
  xattrs?: { name: string; value: string }[];
  /** Data blob ids (hex), in order. */
  content?: string[];
  /** Tree blob id (hex). */
  subtree?: string;
}

export interface Tree {
  nodes: TreeNode[];
}

const FIELD_ORDER: (keyof TreeNode)[] = [
  'name', 'nameRaw', 'type', 'mode', 'uid', 'gid', 'user', 'group', 'mtime', 'atime', 'ctime', 'size',
  'inode', 'device', 'links', 'linkTarget', 'linkTargetRaw', 'rdev', 'xattrs', 'content', 'subtree',
];

/**
 * Whether two node lists serialize to the same tree: the same nodes in the same order,
 * field by field (a field set on one side only, even to an empty list, differs).
 */
export function sameNodes(a: TreeNode[], b: TreeNode[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    for (const k of FIELD_ORDER) if (!sameValue(a[i][k], b[i][k])) return false;
  }
  return true;
}

function sameValue(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (Array.isArray(x) && Array.isArray(y)) return x.length === y.length && x.every((v, i) => sameValue(v, y[i]));
  if (x && y && typeof x === 'object' && typeof y === 'object') {
    const kx = Object.keys(x);
    const ky = Object.keys(y);
    return kx.length === ky.length && kx.every((k, i) => k === ky[i] && sameValue((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]));
  }
  return false;
}

export function nameBytes(n: Pick<TreeNode, 'name' | 'nameRaw'>): Buffer {
  return n.nameRaw !== undefined ? Buffer.from(n.nameRaw, 'base64') : Buffer.from(n.name, 'utf8');
}

/** A device node's major and minor numbers, from Linux's dev_t (major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31). */
export function deviceNumbers(rdev = 0): { major: number; minor: number } {
  const r = BigInt(rdev);
  return { major: Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn)), minor: Number((r & 0xffn) | ((r >> 12n) & ~0xffn)) };
}

/** Text and raw fields for a byte string that may not be UTF-8. */
export function encodeBytes(b: Buffer): { text: string; raw?: string } {
  const text = b.toString('utf8');
  return Buffer.from(text, 'utf8').equals(b) ? { text } : { text, raw: b.toString('base64') };
}

export function serializeTree(tree: Tree): Buffer {
  // Each name's bytes once, not once per comparison: the sort was a tenth of an unchanged backup.
  const keyed = tree.nodes.map((n) => ({ n, key: nameBytes(n) }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  const out = keyed.map(({ n }) => {
    // parseTree rejects such a tree: writing one would damage the snapshot.
    if (n.type === 'dir' && n.subtree === undefined) throw new Error(`directory ${n.name} has no subtree`);
    const o: Record<string, unknown> = {};
    for (const k of FIELD_ORDER) if (n[k] !== undefined) o[k] = n[k];
    return o;
  });
  return Buffer.from(JSON.stringify({ nodes: out }));
}

const TYPES = new Set<NodeType>(['file', 'dir', 'symlink', 'chardev', 'blockdev', 'fifo', 'socket']);
const HEX64 = /^[0-9a-f]{64}$/;

/** Parses and validates a tree blob; throws a plain Error describing the first problem. */
export function parseTree(bytes: Uint8Array): Tree {
  const t = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Tree;
  if (!t || !Array.isArray(t.nodes)) throw new Error('tree has no node list');
  for (const n of t.nodes) {
    if (!n || typeof n.name !== 'string' || !TYPES.has(n.type)) throw new Error('tree node without a valid name or type');
    if (n.nameRaw !== undefined && typeof n.nameRaw !== 'string') throw new Error(`tree node ${n.name} has a bad raw name`);
    // In UTF-8 the byte '/' only ever encodes '/', so the text name needs no encoding.
    if (n.name === '' || n.name === '.' || n.name === '..' || (n.nameRaw === undefined ? n.name.includes('/') : nameBytes(n).includes(0x2f))) {
      throw new Error(`tree node with an unsafe name ${JSON.stringify(n.name)}`);
    }
    if (n.type === 'dir' && (typeof n.subtree !== 'string' || !HEX64.test(n.subtree))) throw new Error(`directory ${n.name} has no subtree`);
    if (n.type === 'file') {
      if (!Array.isArray(n.content) || !n.content.every((c) => typeof c === 'string' && HEX64.test(c))) {
        throw new Error(`file ${n.name} has a bad content list`);
      }
      if (!Number.isSafeInteger(n.size) || n.size < 0) throw new Error(`file ${n.name} has a bad size`);
    }
  }
  return t;
}
