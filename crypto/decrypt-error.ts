/**
 * Raised when sealed data cannot be opened: it is truncated, was modified, or was sealed
 * with another key. Callers tell "wrong password" and "damaged object" apart by context
 * (which object they were opening), not by this error.
 */
export class DecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptError';
  }
}
