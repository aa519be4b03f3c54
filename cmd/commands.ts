// Each command imports its implementation when it runs: loading every command's code
// took 40-50 ms of each start, much of a quick command's whole time.
import * as backup from './backup.js';
import * as cache from './cache.js';
import * as cat from './cat.js';
import * as check from './check.js';
import * as copy from './copy.js';
import * as diff from './diff.js';
import * as dump from './dump.js';
import * as find from './find.js';
import * as forget from './forget.js';
import * as init from './init.js';
import * as key from './key.js';
import * as list from './list.js';
import * as ls from './ls.js';
import * as mount from './mount.js';
import * as prune from './prune.js';
import * as repair from './repair.js';
import * as restore from './restore.js';
import * as rewrite from './rewrite.js';
import * as serve from './serve.js';
import * as snapshots from './snapshots.js';
import * as stats from './stats.js';
import * as tag from './tag.js';
import * as unlock from './unlock.js';

export const commands = [init, backup, snapshots, ls, find, diff, restore, dump, mount, serve, copy, forget, rewrite, prune, check, repair, stats, tag, key, unlock, cache, list, cat];
