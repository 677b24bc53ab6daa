import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../../src/cli/args.js';
import { UsageError } from '../../../src/cli/cli-errors.js';
import { colonHex, safeText } from '../../../src/cli/field-text.js';
import { parseHostPort } from '../../../src/cli/host-port.js';
import { pluginState, worstState } from '../../../src/cli/plugin-state.js';
import { cli } from './capture-io.js';

const root = resolve(__dirname, '..', '..', '..');

describe('certsteward: help, version, and bad command lines', () => {
  it('prints the overview on stdout for --help, -h and help, exit 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.stdout).toContain('Usage: certsteward <command>');
      expect(r.stdout).toMatch(/inspect <file \| host\[:port\]>/);
      expect(r.stderr).toBe('');
    }
  });

  it('prints a command\'s own help for "help check", "check --help" and "inspect -h"', async () => {
    expect((await cli(['help', 'check'])).stdout).toContain('Usage: certsteward check');
    expect((await cli(['check', '--help'])).stdout).toContain('--format human|json|nagios');
    const r = await cli(['inspect', '-h']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: certsteward inspect');
  });

  it('prints the version of package.json for --version', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`certsteward ${pkg.version}\n`);
  });

  it('exits 3 with usage on stderr for no command, an unknown command, or an unknown option', async () => {
    for (const argv of [[], ['renew'], ['--colour'], ['help', 'renew'], ['inspect', 'x.pem', '--frobnicate']]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(3);
      expect(r.stderr).toContain('Usage: certsteward');
      expect(r.stdout).toBe('');
    }
  });

  it('exits 3 for an option without its value', async () => {
    const r = await cli(['check', 'dir', '--warn']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('option --warn needs a value');
  });
});

describe('argument parsing', () => {
  const specs = [
    { name: 'warn', takesValue: true },
    { name: 'json', takesValue: false },
    { name: 'help', takesValue: false, short: 'h' },
  ];

  it('reads --name value, --name=value, flags, short aliases, and everything after -- as positionals', () => {
    const a = parseArgs(['a', '--warn', '30d', '--json', 'b', '-h', '--', '--json'], specs);
    expect(a.positionals).toEqual(['a', 'b', '--json']);
    expect(Object.fromEntries(a.options)).toEqual({ warn: '30d', json: true, help: true });
    expect(parseArgs(['--warn=1d12h'], specs).options.get('warn')).toBe('1d12h');
  });

  it('rejects unknown options and values given to flags', () => {
    expect(() => parseArgs(['--nope'], specs)).toThrow(UsageError);
    expect(() => parseArgs(['--json=yes'], specs)).toThrow('takes no value');
  });
});

describe('host:port targets', () => {
  it.each([
    ['example.com', { host: 'example.com', port: 443, servername: 'example.com', label: 'example.com:443' }],
    ['example.com:8443', { host: 'example.com', port: 8443, servername: 'example.com', label: 'example.com:8443' }],
    ['127.0.0.1:8443', { host: '127.0.0.1', port: 8443, servername: undefined, label: '127.0.0.1:8443' }],
    ['[::1]:8443', { host: '::1', port: 8443, servername: undefined, label: '[::1]:8443' }],
    ['[::1]', { host: '::1', port: 443, servername: undefined, label: '[::1]:443' }],
    ['localhost', { host: 'localhost', port: 443, servername: 'localhost', label: 'localhost:443' }],
    ['https://example.com:444/path', { host: 'example.com', port: 444, servername: 'example.com', label: 'example.com:444' }],
  ])('reads %s as a TLS endpoint', (text, expected) => {
    expect(parseHostPort(text)).toEqual(expected);
  });

  it.each(['certs', 'cert.pem', 'dir/x.crt', './example.com', 'example.com:0', 'example.com:99999', '[::1]:x', ''])(
    'leaves %j to be a path',
    (text) => {
      expect(parseHostPort(text)).toBeUndefined();
    },
  );
});

describe('plugin states and text forms', () => {
  it('maps expired and not-yet-valid to CRITICAL and ranks CRITICAL > WARNING > UNKNOWN > OK', () => {
    expect(pluginState('expired')).toBe('CRITICAL');
    expect(pluginState('not-yet-valid')).toBe('CRITICAL');
    expect(pluginState('unknown')).toBe('UNKNOWN');
    expect(worstState(['OK', 'UNKNOWN'])).toBe('UNKNOWN');
    expect(worstState(['UNKNOWN', 'WARNING', 'OK'])).toBe('WARNING');
    expect(worstState(['WARNING', 'CRITICAL', 'UNKNOWN'])).toBe('CRITICAL');
    expect(worstState([])).toBe('UNKNOWN');
  });

  it('writes hex in OpenSSL\'s colon form and neutralises control characters from certificate names', () => {
    expect(colonHex('0a1bff')).toBe('0A:1B:FF');
    expect(colonHex('abc')).toBe('0A:BC');
    expect(safeText('evil\u001b[2J\nCN=x')).toBe('evil\\x1b[2J\\x0aCN=x');
  });
});
