import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFilesFrom } from '../../cmd/files-from.js';
import { attachStdinDashes } from '../../cmd/stdin-dash.js';

it('--files-from takes one path per line and skips empty lines and comments', () => {
  const text = '# home\n/home/ann\n\n/etc/hosts\r\n  # not a comment: a name that starts with spaces\nname with spaces \n';
  assert.deepEqual(parseFilesFrom(text, false), ['/home/ann', '/etc/hosts', '  # not a comment: a name that starts with spaces', 'name with spaces ']);
});

it('--files-from-raw takes NUL-separated paths as they are, newlines and # included', () => {
  assert.deepEqual(parseFilesFrom('/a\nb\0#c\0\0/d', true), ['/a\nb', '#c', '/d']);
});

it('a "-" after --files-from, --files-from-raw or --exclude-file stays its value, but not after "--"', () => {
  assert.deepEqual(attachStdinDashes(['backup', '--files-from', '-', '--exclude-file', '-', '--tag', '-', '--', '--files-from', '-']), [
    'backup', '--files-from=-', '--exclude-file=-', '--tag', '-', '--', '--files-from', '-',
  ]);
  assert.deepEqual(attachStdinDashes(['backup', '--files-from-raw', '-']), ['backup', '--files-from-raw=-']);
});
