// Placeholder until the anthropic-bedrock adapter lands (issue 18).
import { unavailableAdapter } from '../shared/unavailable.js';

export const anthropicBedrockAdapter = unavailableAdapter('anthropic-bedrock', 'aws.bedrock');
