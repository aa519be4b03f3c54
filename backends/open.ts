import { Backend } from './backend.js';
import { LocalBackend } from './local.js';
import { MemoryBackend } from './memory.js';

export interface OpenBackendOptions {
  connections?: number;
  storageClass?: string;
  endpoint?: string;
}

export async function openBackend(location: string, _opts: OpenBackendOptions = {}): Promise<Backend> {
  if (location === 'memory:') return new MemoryBackend();
  return new LocalBackend(location.replace(/^local:/, ''));
}
