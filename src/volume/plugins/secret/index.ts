export { getSecretForVolume, makeSecretPayload, SECRET_PLUGIN_NAME, SecretPlugin } from './secret.ts';
