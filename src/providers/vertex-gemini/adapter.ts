// Placeholder until the vertex-gemini adapter lands (issue 18).
import { unavailableAdapter } from '../shared/unavailable.js';

export const vertexGeminiAdapter = unavailableAdapter('vertex-gemini', 'gcp.vertex_ai');
