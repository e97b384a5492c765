// Placeholder until the google credential sources land (issue 18).
import { CredentialUnavailableError, type AuthSourceFactory } from './types.js';

export const createGoogleAuth: AuthSourceFactory = (backend) => ({
  current: () =>
    Promise.reject(
      new CredentialUnavailableError(
        `google credentials are not supported yet (backend ${backend.id})`,
      ),
    ),
});
