import { u16 } from './bytes.js';

/** Update sequence stride: NTFS protects every 512 bytes, whatever the sector size. */
const STRIDE = 512;

/**
 * Checks and undoes the update sequence of a multi-sector record (FILE or INDX), in place.
 * Returns an error message when the record is torn or its header is malformed.
 */
export function applyFixups(record: Uint8Array, magic: string): string | null {
  if (Buffer.from(record.subarray(0, 4)).toString('latin1') !== magic) return `bad magic (expected ${magic})`;
  const usaOffset = u16(record, 4);
  const usaCount = u16(record, 6);
  const sectors = record.length / STRIDE;
  if (usaCount !== sectors + 1) return `update sequence count ${usaCount} does not fit a ${record.length}-byte record`;
  if (usaOffset < 8 || usaOffset % 2 !== 0 || usaOffset + usaCount * 2 > STRIDE - 2) return 'update sequence array out of place';
  const check0 = record[usaOffset];
  const check1 = record[usaOffset + 1];
  for (let i = 1; i <= sectors; i++) {
    const end = i * STRIDE - 2;
    if (record[end] !== check0 || record[end + 1] !== check1) return `update sequence mismatch in block ${i - 1}`;
  }
  for (let i = 1; i <= sectors; i++) {
    const end = i * STRIDE - 2;
    record[end] = record[usaOffset + i * 2];
    record[end + 1] = record[usaOffset + i * 2 + 1];
  }
  return null;
}
