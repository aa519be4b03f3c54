/**
 * restic-style exclude patterns: a pattern without a slash matches any path component
 * (`*.log`, `node_modules`); one starting with `/` matches from the root; otherwise it
 * matches the end of the path. `**` crosses directories.
 */
import path from 'node:path';

export type Excluder = (absPath: string) => boolean;

/** `ignoreCase`: restic's --iexclude, the same patterns matched without regard to case. */
export function compileExcludes(patterns: string[], opts: { ignoreCase?: boolean } = {}): Excluder {
  const flags = opts.ignoreCase ? 'i' : '';
  const regexes = patterns.filter((p) => p.trim() !== '' && !p.trim().startsWith('#')).map((p) => toRegex(p.trim(), flags));
  if (regexes.length === 0) return () => false;
  return (absPath) => regexes.some((r) => r.test(absPath));
}

/** --exclude and --iexclude together: a path that either set matches is excluded. */
export function compileExcludesBothCases(exact: string[], anyCase: string[]): Excluder {
  const matchesCase = compileExcludes(exact);
  const ignoresCase = compileExcludes(anyCase, { ignoreCase: true });
  return (absPath) => matchesCase(absPath) || ignoresCase(absPath);
}

function toRegex(pattern: string, flags: string): RegExp {
  const anchored = pattern.startsWith('/');
  const body = globToRegexSource(path.posix.normalize(pattern).replace(/\/$/, ''));
  // Matching a directory excludes everything below it, hence the optional tail.
  return new RegExp(`${anchored ? '^' : '(?:^|/)'}${body}(?:/.*)?$`, flags);
}

export function globToRegexSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        i++;
        if (glob[i + 1] === '/') i++;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) out += '\\[';
      else {
        out += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return out;
}

export const CACHEDIR_TAG_SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';
