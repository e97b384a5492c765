// Public entry of the simulated OpenAI/Azure/Anthropic/Vertex AI model server (local mode, tests, benchmarks).
export { startSimulatedBackend, type RecordedRequest, type SimulatedBackend } from './server.js';
export {
  DEFAULT_BEHAVIOR,
  simulatorOptions,
  type SimulatorBehavior,
  type SimulatorOptions,
} from './options.js';
export { simulatedServiceAccountKey, type SimulatedServiceAccount } from './vertex-auth.js';
