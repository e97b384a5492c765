// Placeholder until the anthropic-vertex adapter lands (issue 18).
import { unavailableAdapter } from '../shared/unavailable.js';

export const anthropicVertexAdapter = unavailableAdapter('anthropic-vertex', 'gcp.vertex_ai');
