/**
 * `b` itself when it spans its whole ArrayBuffer, else a copy that does: a view (a small
 * Buffer shares an 8 KiB pool) cannot be transferred to a worker without taking the rest
 * of its buffer along.
 */
export function ownBuffer(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}
