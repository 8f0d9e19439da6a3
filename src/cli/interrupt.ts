/**
 * Ctrl-C handling for long commands: the first SIGINT asks the running stage to stop at its next
 * safe point (it checkpoints, then the command exits; the same command resumes); a second SIGINT
 * exits at once.
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let count = 0;
  const onSigint = () => {
    count++;
    if (count === 1) {
      process.stderr.write('\ninterrupt: stopping at the next safe point (press Ctrl-C again to quit now)\n');
      controller.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onSigint);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
