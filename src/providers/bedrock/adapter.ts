// Placeholder until the bedrock adapter lands (issue 18).
import { unavailableAdapter } from '../shared/unavailable.js';

export const bedrockAdapter = unavailableAdapter('bedrock', 'aws.bedrock');
