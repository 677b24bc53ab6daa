/**
 * Bounded concurrency: many files or hosts in flight, never all at once.
 *
 * @module
 */

/**
 * Maps `items` through `fn` with at most `limit` calls in flight; results
 * keep the order of `items`.
 *
 * @example
 * ```ts
 * const chains = await mapConcurrent(hosts, (h) => fetchServedChain(h, { timeoutMs }), 8)
 * ```
 */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  fn: (item: T, index: number) => Promise<R>,
  limit: number,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
