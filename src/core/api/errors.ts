/**
 * The one error root of Nestbox. Codes are stable strings so that an error raised in the core
 * survives the trip through MessagePort, WebSocket or the unix socket and can be matched by
 * the CLI and the renderer without parsing messages.
 */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'INVALID_CONFIG',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'INVALID_STATE',
  'BUSY',
  'ADMISSION_DENIED',
  'HOST_UNSUPPORTED',
  'QEMU_FAILED',
  'QMP_ERROR',
  'QMP_DISCONNECTED',
  'TIMEOUT',
  'IMAGE_REJECTED',
  'IO_ERROR',
  /** The disk that was being written to is full (or a file size limit was hit). */
  'NO_SPACE',
  'LOCKED',
  'PROTOCOL_ERROR',
  'UNKNOWN_METHOD',
  'CANCELLED',
  /** Something else depends on it (a linked clone on its parent VM). */
  'IN_USE',
  /** The VM's disks cannot hold internal snapshots (raw, VDI, VMDK, ...): convert them to qcow2. */
  'SNAPSHOTS_UNSUPPORTED',
  /** The core was stopped (killed, power cut) while the job ran; what it had half made was removed. */
  'INTERRUPTED',
  /** A libvirt host could not be reached (down, refused the connection or the login, did not answer in time). */
  'HOST_UNREACHABLE',
  /** The engine or host cannot do this (a libvirt host without the feature); the message names host and capability. */
  'UNSUPPORTED',
  /** The other side (a libvirt host) refused or failed the operation; the message is its own error line. */
  'FAILED',
  /** The VM's TPM emulator (swtpm) could not start or serve its state; resetting the TPM is the way out. */
  'TPM_FAILED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Plain, serialisable form of an error as it crosses a process boundary. */
export interface ErrorShape {
  readonly code: ErrorCode;
  readonly message: string;
  /** Extra context (the QMP command and its reply, the qemu-img argv and stderr, ...). */
  readonly detail?: string;
}

export class NestboxError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'NestboxError';
    this.code = code;
    this.detail = detail;
  }

  toShape(): ErrorShape {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }

  static fromShape(shape: ErrorShape): NestboxError {
    const code = (ERROR_CODES as readonly string[]).includes(shape.code) ? shape.code : 'INTERNAL';
    return new NestboxError(code, shape.message, shape.detail);
  }

  /** Wraps anything thrown into a NestboxError, keeping a NestboxError as it is. */
  static from(err: unknown, fallback: ErrorCode = 'INTERNAL'): NestboxError {
    if (err instanceof NestboxError) return err;
    if (err instanceof Error) return new NestboxError(fallback, err.message, err.stack);
    return new NestboxError(fallback, String(err));
  }
}

export function isErrorShape(v: unknown): v is ErrorShape {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { code?: unknown }).code === 'string' &&
    typeof (v as { message?: unknown }).message === 'string'
  );
}

export function assertNever(x: never, what = 'value'): never {
  throw new NestboxError('INTERNAL', `unexpected ${what}: ${JSON.stringify(x)}`);
}
