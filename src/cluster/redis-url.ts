/**
 * The Redis URL of a cluster: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. It may
 * carry a password, so it is never printed: every message that could hold it goes through `redact`,
 * and `describe` names the server without credentials. `env:NAME` reads the URL from an environment
 * variable, keeping the password out of the process list.
 */

export class RedisUrlError extends Error {
  constructor(message: string) {
    super(message);
    // Reported like any bad option: one line, exit code 2 (cli/errors.ts).
    this.name = 'UserError';
  }
}

export interface RedisTarget {
  /** The full URL (secret: never print it). */
  url: string;
  /** host:port/db with the scheme, credentials left out: what messages show. */
  display: string;
  /** The strings to scrub from messages: the URL and its password. */
  secrets: string[];
}

/** Parse `--redis <url>` (or `env:NAME`); errors name the option, never the URL. */
export function parseRedisUrl(value: string, option = '--redis'): RedisTarget {
  let raw = value.trim();
  if (raw.startsWith('env:')) {
    const name = raw.slice(4);
    const fromEnv = process.env[name];
    if (!fromEnv) throw new RedisUrlError(`${option} env:${name}: the environment variable ${name} is not set`);
    raw = fromEnv.trim();
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new RedisUrlError(`${option} is not a URL (expected redis://host:port or rediss://host:port for TLS)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RedisUrlError(`${option} must start with redis:// or rediss:// (TLS), got ${u.protocol}//`);
  if (!u.hostname) throw new RedisUrlError(`${option} names no host`);
  const secrets = [raw];
  for (const s of [u.password, decodeURIComponent(u.password)]) if (s) secrets.push(s);
  const display = `${u.protocol}//${u.hostname}:${u.port || '6379'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}${u.password ? ' (password set)' : ''}`;
  return { url: raw, display, secrets: [...new Set(secrets)].sort((a, b) => b.length - a.length) };
}

/** `text` with the URL and its password replaced, longest first (the password sits inside the URL). */
export function redact(text: string, target: RedisTarget): string {
  let out = text;
  for (const s of target.secrets) out = out.split(s).join(s === target.url ? target.display : '***');
  return out;
}

/**
 * Connection options for BullMQ and ioredis. No retry limit per command: through a Redis restart,
 * commands wait for the reconnection instead of failing (ioredis reconnects by itself); `rediss://`
 * turns TLS on (ioredis reads the scheme).
 */
export function connectionOptions(): { maxRetriesPerRequest: null; enableOfflineQueue: true; retryStrategy: (times: number) => number } {
  return { maxRetriesPerRequest: null, enableOfflineQueue: true, retryStrategy: (times) => Math.min(200 * times, 2000) };
}

/** BullMQ's `connection` option for the target. */
export function bullConnection(target: RedisTarget): ReturnType<typeof connectionOptions> & { url: string } {
  return { url: target.url, ...connectionOptions() };
}

/** Calls `log` at most once per `everyMs` (a Redis outage raises an error per retry). */
export function throttled(log: (message: string) => void, everyMs = 5000): (message: string) => void {
  let last = 0;
  return (message) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    log(message);
  };
}
