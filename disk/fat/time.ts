/**
 * FAT stores local time without a zone. cairn treats it as UTC: the image does not say
 * which zone the writer used, and UTC keeps the result independent of the reading host.
 */
export function fatTimeToNs(date: number, time: number, tenMs = 0): bigint {
  const day = date & 0x1f;
  const month = (date >> 5) & 0x0f;
  const year = 1980 + (date >> 9);
  if (date === 0 || day === 0 || month === 0 || month > 12) return 0n;
  const hours = time >> 11;
  const minutes = (time >> 5) & 0x3f;
  const seconds = (time & 0x1f) * 2;
  const ms = Date.UTC(year, month - 1, day, Math.min(hours, 23), Math.min(minutes, 59), Math.min(seconds, 59));
  const extraMs = Math.min(tenMs, 199) * 10;
  return (BigInt(ms) + BigInt(extraMs)) * 1_000_000n;
}
