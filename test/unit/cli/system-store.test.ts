import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expiryStatus } from '../../../src/index.js';
import { cli } from './capture-io.js';
import { opensslFacts } from './openssl-pki.js';

const STORE = '/etc/ssl/certs';

interface Entry {
  label: string;
  index: number | null;
  status: string;
  sha256: string | null;
}

describe(`certsteward check ${STORE} (the machine's CA store)`, () => {
  it('finds the machine CA store (the ca-certificates package), which these tests read', () => {
    expect(existsSync(STORE), `${STORE} is missing: install the ca-certificates package`).toBe(true);
  });

  it('runs over the symlink farm, lists more than 100 certificates, each once, one table line each', async () => {
    const now = new Date();
    const json = await cli(['check', STORE, '--format', 'json'], { now });
    const doc = JSON.parse(json.stdout) as { entries: Entry[]; summary: { total: number; unknown: number } };
    expect(doc.summary.total).toBeGreaterThan(100);
    expect(doc.summary.unknown).toBe(0);
    const fingerprints = doc.entries.map((e) => e.sha256);
    expect(new Set(fingerprints).size).toBe(fingerprints.length);
    // Named by file, not by c_rehash hash link.
    expect(doc.entries.some((e) => /\/[0-9a-f]{8}\.\d+$/.test(e.label))).toBe(false);
    const human = await cli(['check', STORE], { now });
    expect(human.code).toBe(json.code);
    const rows = human.stdout.split('\n').filter((l) => /^(OK|WARNING|CRITICAL|EXPIRED|NOT-YET-VALID|UNKNOWN) /.test(l));
    expect(rows).toHaveLength(doc.summary.total);
    expect(human.stdout).toContain(`${doc.summary.total} certificates: `);
  });

  it('gives each sampled certificate the status that expiryStatus gives for the dates OpenSSL reads from it', async () => {
    const now = new Date();
    const r = await cli(['check', STORE, '--format', 'json'], { now });
    const entries = (JSON.parse(r.stdout) as { entries: Entry[] }).entries.filter((e) => e.index === null);
    const step = Math.max(1, Math.floor(entries.length / 25));
    const sample = entries.filter((_, i) => i % step === 0);
    expect(sample.length).toBeGreaterThanOrEqual(10);
    for (const e of sample) {
      const facts = opensslFacts(e.label); // the expectation comes from OpenSSL, not from our parser
      const expected = expiryStatus({ notBefore: facts.notBefore, notAfter: facts.notAfter }, now).status;
      expect(e.status, e.label).toBe(expected);
    }
    // Every non-OK line must be one OpenSSL agrees with, not only the sample.
    for (const e of entries.filter((x) => x.status !== 'ok')) {
      const facts = opensslFacts(e.label);
      expect(e.status, e.label).toBe(expiryStatus({ notBefore: facts.notBefore, notAfter: facts.notAfter }, now).status);
    }
  });
});
