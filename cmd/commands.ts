import * as backup from './backup.js';
import * as cat from './cat.js';
import * as check from './check.js';
import * as diff from './diff.js';
import * as dump from './dump.js';
import * as find from './find.js';
import * as forget from './forget.js';
import * as init from './init.js';
import * as key from './key.js';
import * as ls from './ls.js';
import * as prune from './prune.js';
import * as restore from './restore.js';
import * as snapshots from './snapshots.js';
import * as stats from './stats.js';
import * as tag from './tag.js';
import * as unlock from './unlock.js';

export const commands = [init, backup, snapshots, ls, find, diff, restore, dump, forget, prune, check, stats, tag, key, unlock, cat];
