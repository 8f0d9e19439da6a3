/**
 * A real redis-server (Debian's package) for the cluster tests: each test file starts its own on a
 * free loopback port with a temporary directory and append-only persistence, and stops it afterwards.
 * `restart()` stops it cleanly (the append-only file is flushed) and starts it again on the same port
 * and directory, as a Redis restart in production would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const READY = /Ready to accept connections/;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  private proc: ChildProcess | null = null;
  private log = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly password?: string,
  ) {}

  /** Start a server; `password` sets requirepass (the URL then carries it). */
  static async start(opts: { password?: string } = {}): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'gpd-redis-'));
    const server = new RedisServer(await freePort(), dir, opts.password);
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://${this.password ? `:${encodeURIComponent(this.password)}@` : ''}127.0.0.1:${this.port}`;
  }

  private launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'];
    if (this.password) args.push('--requirepass', this.password);
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${this.log}`)), 10_000);
      const onData = (d: Buffer) => {
        this.log += d.toString();
        if (READY.test(this.log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`redis-server could not be started (${err.message}); install Debian's redis-server package`));
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with code ${code}:\n${this.log}`));
      });
    });
  }

  /** Stop cleanly (SIGTERM: Redis flushes the append-only file) and wait for the exit. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    this.log = '';
    await this.launch();
  }

  /** Stop and remove the directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
