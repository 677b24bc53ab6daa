import { describe, expect, it } from 'vitest';
import { LocalAuthority } from '../../../adapters/local-ca/index.js';
import { systemClock } from '../../../src/steward/system-clock.js';
import { describeCertificateAuthority } from '../../../src/testing/contracts/authority-contract.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';


describe('LocalAuthority (ECDSA-P256 CA, system clock)', () => {
  describeCertificateAuthority({ describe, it, expect }, async () => {
    const keys = new MemoryKeyStore();
    const authority = await LocalAuthority.create({ keys, clock: systemClock });
    return { authority, trustAnchorsPem: authority.rootPem, makeKey: () => keys.generate({ algorithm: 'ECDSA-P256' }) };
  });
});

describe('LocalAuthority (Ed25519 CA issuing for RSA keys, manual clock)', () => {
  describeCertificateAuthority({ describe, it, expect }, async () => {
    const keys = new MemoryKeyStore();
    const clock = new ManualClock('2031-03-04T05:06:07Z');
    const authority = await LocalAuthority.create({ keys, clock, algorithm: 'Ed25519', name: 'Contract' });
    return { authority, clock, trustAnchorsPem: authority.rootPem, makeKey: () => keys.generate({ algorithm: 'RSA-2048' }) };
  });
});

describe('LocalAuthority (ECDSA-P384 CA reloaded from its JSON state)', () => {
  describeCertificateAuthority({ describe, it, expect }, async () => {
    const keys = new MemoryKeyStore();
    const first = await LocalAuthority.create({ keys, clock: systemClock, algorithm: 'ECDSA-P384' });
    const authority = await LocalAuthority.load(JSON.parse(JSON.stringify(first)), { keys, clock: systemClock });
    return { authority, trustAnchorsPem: first.rootPem, makeKey: () => keys.generate({ algorithm: 'ECDSA-P384' }) };
  });
});
