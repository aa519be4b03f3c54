import * as backup from './backup.js';
import * as cat from './cat.js';
import * as dump from './dump.js';
import * as init from './init.js';
import * as ls from './ls.js';
import * as mount from './mount.js';
import * as restore from './restore.js';
import * as serve from './serve.js';
import * as snapshots from './snapshots.js';

export const commands = [init, backup, snapshots, ls, restore, dump, cat, mount, serve];
