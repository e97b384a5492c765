// Placeholder until the aws credential sources land (issue 18).
import { CredentialUnavailableError, type AuthSourceFactory } from './types.js';

export const createAwsAuth: AuthSourceFactory = (backend) => ({
  current: () =>
    Promise.reject(
      new CredentialUnavailableError(
        `aws credentials are not supported yet (backend ${backend.id})`,
      ),
    ),
});
