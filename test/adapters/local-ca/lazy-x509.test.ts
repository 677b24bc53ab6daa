import { expect, it } from 'vitest';
import { LocalAuthority, emergencySelfSigned } from '../../../adapters/local-ca/index.js';
import { parseCertificate } from '../../../src/index.js';
import { buildCsr, readCsr } from '../../../src/pki/csr.js';
import type { KeyHandle } from '../../../src/ports/key-store.js';
import { systemClock } from '../../../src/steward/system-clock.js';
import { TestAuthority } from '../../../src/testing/test-authority.js';

// This file must run in a fresh process (Vitest's default isolation with the
// forks pool): it checks a global that @peculiar/x509 sets on import.
const metadata = () => typeof (Reflect as { getMetadata?: unknown }).getMetadata;

it('loads @peculiar/x509 (and its global reflect-metadata) only to create a CA or an emergency certificate: never on import, CSR building or reading', async () => {
  expect([typeof LocalAuthority, typeof emergencySelfSigned, typeof buildCsr, typeof TestAuthority]).toEqual([
    'function',
    'function',
    'function',
    'function',
  ]);
  expect(metadata()).toBe('undefined');
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const key: KeyHandle = {
    ref: { store: 'test', id: 'lazy', algorithm: 'ECDSA-P256', spkiSha256: '' },
    algorithm: 'ECDSA-P256',
    crypto,
    publicKey: pair.publicKey,
    privateKey: pair.privateKey,
    exportable: false,
  };
  // CSRs are encoded directly: the renewal hot path never loads the library.
  const csrPem = await buildCsr({ key, subjectAltNames: [{ type: 'dns', value: 'lazy.test' }] });
  expect(readCsr(csrPem).signatureValid).toBe(true);
  expect(metadata()).toBe('undefined');
  const pem = await emergencySelfSigned({ key, subjectAltNames: [{ type: 'dns', value: 'lazy.test' }], clock: systemClock });
  expect(parseCertificate(pem).selfSigned).toBe(true);
  expect(metadata()).toBe('function');
});
