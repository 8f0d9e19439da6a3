/**
 * The error taxonomy: every error a user can cause (a bad option, bad data, a damaged or foreign
 * artefact, a busy folder, a full or read-only disk) is a `UserError`, whose message alone tells
 * what is wrong, where (file, line, key, option, region, JSON path) and, where there is one, the fix.
 * The CLI (cli/errors.ts) prints such an error as one message with exit code 2; any other error is a
 * bug and keeps its stack (exit 1). `GPD_DEBUG=1` prints the stack of every error.
 *
 * Which class to throw:
 *   ConfigError       a setting: a config key, a --set, a CLI option, a library option ("bank.groupSize must be ...")
 *   DataError         input data: a city's file, line, column, node ("x.csv, line 4, column 2: ...")
 *   ArtefactError     something gpd wrote (bank, run folder, generator) that is missing, damaged, unfinished
 *                     or from other settings; `fix` says what to do ("delete <file> and rerun to recompute it")
 *   FolderInUseError  an output folder locked by another process (util/lock.ts)
 *   StorageError      the file system refused: permission denied, no space left, read-only (storageError())
 *   UserError         anything else a user can fix (a missing option, a bad combination of commands)
 *
 * Adopting it: `throw new ConfigError('--workers must be ...')`; wrap file system calls that write
 * outputs with `storageError(err, path)` (or use util/atomic.ts, which does), and quote file content
 * in a message only through `quoteText` (control characters escaped, at most 80 characters).
 */

/** Control characters, line/paragraph separators and bidi controls: never printed raw from a file. */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * An error the user can fix; its message is the whole story (exit code 2, no stack). Control
 * characters that reached the message (a file name, an id from a file) are escaped; line breaks stay.
 */
export class UserError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message.replace(UNPRINTABLE, escapeChar), options);
    this.name = 'UserError';
  }
}

/** A bad setting: names the key, option or field, what it must be and what it got. */
export class ConfigError extends UserError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** A data problem a user can fix: the message names the file and the row/column/node. */
export class DataError extends UserError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataError';
  }
}

/**
 * An artefact gpd wrote (or was pointed at) that cannot be used: missing, truncated, checksum
 * mismatch, non-finite values, another format or other settings. `file` is the artefact, `fix` what
 * the user should do (appended to the message).
 */
export class ArtefactError extends UserError {
  readonly file: string;
  readonly fix: string | undefined;
  /** The problem without the fix (to re-wrap with a more specific fix). */
  readonly problem: string;
  constructor(file: string, problem: string, fix?: string, options?: { cause?: unknown }) {
    super(fix ? `${problem}; ${fix}` : problem, options);
    this.name = 'ArtefactError';
    this.file = file;
    this.fix = fix;
    this.problem = problem;
  }

  /** The same problem with another fix (a caller that knows how the artefact is made). */
  withFix(fix: string): ArtefactError {
    return new ArtefactError(this.file, this.problem, fix, { cause: this });
  }
}

/** An output folder held by another live process (util/lock.ts). */
export class FolderInUseError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'FolderInUseError';
  }
}

/** The file system refused an operation on `path` (permission, space, read-only). */
export class StorageError extends UserError {
  readonly path: string;
  readonly code: string;
  constructor(path: string, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.path = path;
    this.code = code;
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

/** What the file system said, in words a user can act on (keyed by errno code). */
const STORAGE_PROBLEMS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EISDIR: 'it is a folder, a file was expected',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ENAMETOOLONG: 'the path is too long',
  EMFILE: 'too many open files',
  ENOENT: 'no such file or folder',
};

/**
 * A Node file system error as a StorageError naming `path` (the file the user knows, not a temp
 * file) and what was being done; undefined when `err` is not such an error (a bug: rethrow it).
 */
export function storageError(err: unknown, path: string, action = 'write'): StorageError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (!code || !(code in STORAGE_PROBLEMS)) return undefined;
  const hint = code === 'ENOSPC' || code === 'EDQUOT' ? '; free some space or choose another output folder' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? '; choose an output folder you can write to' : '';
  return new StorageError(path, code, `cannot ${action} ${path}: ${STORAGE_PROBLEMS[code]} (${code})${hint}`, { cause: err });
}

/** Rethrow a file system error on `path` as a StorageError (anything else unchanged). */
export function rethrowStorage(err: unknown, path: string, action = 'write'): never {
  throw storageError(err, path, action) ?? err;
}

/**
 * Text from a file or the command line, safe to print inside a message: JSON-quoted (so control
 * characters, terminal escapes and bidirectional overrides show as \u escapes), at most 80 characters.
 */
export function quoteText(v: unknown): string {
  let text: string;
  try {
    text = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    text = String(v);
  }
  // JSON escapes C0 controls; this also escapes DEL, C1 controls, separators and bidi controls.
  text = text.replace(UNPRINTABLE, escapeChar).replace(/\n/g, '\\n');
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
