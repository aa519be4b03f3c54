import { MemoryBackend } from '../../backends/memory.js';
import { backendConformance } from './conformance.js';

backendConformance('memory', async () => new MemoryBackend());
