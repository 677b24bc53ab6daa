import { describe, expect, it } from 'vitest';
import { fabricCaCode, fabricCaError, fabricCaProblem, type FabricCallContext } from '../../../adapters/fabric-ca/fabric-ca-errors.js';

const auth20 = fabricCaProblem(401, [{ code: 20, message: 'Authentication failure' }], 'POST /api/v1/reenroll');

function mapped(status: number, code: number | undefined, context: FabricCallContext = 'registrar') {
  const e = fabricCaError(fabricCaProblem(status, code === undefined ? [] : [{ code, message: 'm' }], 'POST /x'), context, 'test');
  return { kind: e.kind, retryable: e.retryable };
}

describe('fabricCaError', () => {
  it('reads code 20 by who authenticated: revoked for a valid certificate re-enrolling, unauthorized otherwise', () => {
    const kinds = (['reenroll', 'reenroll-expired', 'enroll', 'registrar'] as const).map((c) => fabricCaError(auth20, c, 'x').kind);
    expect(kinds).toEqual(['revoked', 'unauthorized', 'unauthorized', 'unauthorized']);
    expect(fabricCaError(auth20, 'reenroll', 'x').retryable).toBe(false);
  });

  it('maps the Fabric CA codes of lib/caerrors', () => {
    expect({
      identityNotFound: mapped(404, 63),
      caNotFound: mapped(404, 19),
      cnMismatch: mapped(403, 77),
      authorization: mapped(403, 71),
      passwordAttempts: mapped(401, 73),
      revokedId: mapped(401, 70),
      dbUnreachable: mapped(504, 51),
      alreadyRevoked: mapped(404, 66),
    }).toEqual({
      identityNotFound: { kind: 'refused', retryable: false },
      caNotFound: { kind: 'refused', retryable: false },
      cnMismatch: { kind: 'refused', retryable: false },
      authorization: { kind: 'unauthorized', retryable: false },
      passwordAttempts: { kind: 'unauthorized', retryable: false },
      revokedId: { kind: 'revoked', retryable: false },
      dbUnreachable: { kind: 'unavailable', retryable: true },
      alreadyRevoked: { kind: 'refused', retryable: false },
    });
  });

  it('reads a server error or a rate limit as transient whatever Fabric code comes with it', () => {
    expect([mapped(500, 30), mapped(503, 20, 'reenroll'), mapped(429, 63)]).toEqual([
      { kind: 'unavailable', retryable: true },
      { kind: 'unavailable', retryable: true },
      { kind: 'rate-limited', retryable: true },
    ]);
  });

  it('falls back to the HTTP status for codes it does not know (and for code 0)', () => {
    expect([mapped(500, 0), mapped(502, undefined), mapped(429, 999), mapped(403, 999), mapped(400, 5)]).toEqual([
      { kind: 'unavailable', retryable: true },
      { kind: 'unavailable', retryable: true },
      { kind: 'rate-limited', retryable: true },
      { kind: 'unauthorized', retryable: false },
      { kind: 'refused', retryable: false },
    ]);
  });

  it("keeps the server's answer as cause and names the call, the codes and the fix in the message", () => {
    const e = fabricCaError(fabricCaProblem(404, [{ code: 63, message: 'Failed to get User: sql: no rows in result set' }], 'PUT /api/v1/identities/peer1'), 'registrar', 'modification of identity "peer1"');
    expect(e.message).toMatch(/PUT \/api\/v1\/identities\/peer1/);
    expect(e.message).toMatch(/code 63: Failed to get User/);
    expect(e.message).toMatch(/register it with FabricCaAuthority\.register\(\)/);
    expect(fabricCaCode(e.cause)).toBe(63);
    expect(fabricCaCode(new Error('ECONNREFUSED'))).toBe(0);
  });
});
