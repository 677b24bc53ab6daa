import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing/index.ts',
    'local-ca': 'adapters/local-ca/index.ts',
    knex: 'adapters/knex/index.ts',
    acme: 'adapters/acme/index.ts',
    'fabric-ca': 'adapters/fabric-ca/index.ts',
    cli: 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', testing: 'src/testing/index.ts', 'local-ca': 'adapters/local-ca/index.ts', knex: 'adapters/knex/index.ts', acme: 'adapters/acme/index.ts', 'fabric-ca': 'adapters/fabric-ca/index.ts' } },
  splitting: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  // Adapter dependencies stay out of the bundle: they are the host's.
  external: ['@peculiar/x509', 'pkijs', 'eventemitter3', 'knex', 'pg', 'better-sqlite3', 'acme-client', 'graphene-pk11'],
});
