// Placeholder until the azure-entra credential sources land (issue 18).
import { CredentialUnavailableError, type AuthSourceFactory } from './types.js';

export const createAzureEntraAuth: AuthSourceFactory = (backend) => ({
  current: () =>
    Promise.reject(
      new CredentialUnavailableError(
        `azure-entra credentials are not supported yet (backend ${backend.id})`,
      ),
    ),
});
