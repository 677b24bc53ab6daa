/**
 * Monitoring-plugin states (Nagios, Icinga, Sensu, Zabbix agent checks):
 * the exit code of `certsteward check`.
 *
 * @module
 */
import type { ExpiryStatus } from '../index.js';

/** A plugin state; the number is the process exit code. */
export type PluginState = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** Exit code of each state, per the monitoring-plugin guidelines. */
export const EXIT_CODE: Readonly<Record<PluginState, number>> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

/** How bad each state is when several are combined: CRITICAL > WARNING > UNKNOWN > OK. */
const SEVERITY: Readonly<Record<PluginState, number>> = { OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3 };

/**
 * The plugin state of one certificate: expired and not-yet-valid
 * certificates are as bad as critical ones (a client rejects both today).
 *
 * @example
 * ```ts
 * pluginState('expired') // 'CRITICAL'
 * ```
 */
export function pluginState(status: ExpiryStatus): PluginState {
  switch (status) {
    case 'ok':
      return 'OK';
    case 'warning':
      return 'WARNING';
    case 'critical':
    case 'expired':
    case 'not-yet-valid':
      return 'CRITICAL';
    case 'unknown':
      return 'UNKNOWN';
  }
}

/**
 * The state of a whole check: the worst of `states` in the Nagios order
 * CRITICAL > WARNING > UNKNOWN > OK, so one unreadable file never hides an
 * expired certificate. An empty list is `UNKNOWN` (nothing was checked).
 *
 * @example
 * ```ts
 * worstState(['OK', 'UNKNOWN', 'WARNING']) // 'WARNING'
 * ```
 */
export function worstState(states: Iterable<PluginState>): PluginState {
  let worst: PluginState | undefined;
  for (const s of states) if (worst === undefined || SEVERITY[s] > SEVERITY[worst]) worst = s;
  return worst ?? 'UNKNOWN';
}
