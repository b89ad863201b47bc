// The one place that loads @peculiar/x509: it installs the Reflect metadata
// functions the library needs before it loads, and points the library at
// node's WebCrypto so every certificate operation uses the same provider.
import './reflect-metadata.ts';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

// node's WebCrypto implements the standard interface; only the type names differ.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
