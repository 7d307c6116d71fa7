/**
 * Reusable fixed-size buffers for streaming blobs. Every freshly allocated buffer is external
 * memory that V8 only reclaims after it has grown by ~64 MiB, so a pull of a large blob
 * would otherwise raise the process's RSS by that much. Release is optional: a chunk that is
 * never released is simply garbage collected.
 */
export class BufferPool {
  readonly bufferSize: number;
  readonly #maxFree: number;
  readonly #free: ArrayBuffer[] = [];
  /** Buffers handed out and not yet released: guards against double release. */
  readonly #lent = new WeakSet<ArrayBufferLike>();

  constructor(bufferSize: number, maxFree: number) {
    this.bufferSize = bufferSize;
    this.#maxFree = maxFree;
  }

  acquire(): Buffer {
    const backing = this.#free.pop() ?? new ArrayBuffer(this.bufferSize);
    this.#lent.add(backing);
    return Buffer.from(backing, 0, this.bufferSize);
  }

  /** Gives back a buffer (or a view of one) from acquire(); anything else is ignored. */
  release(chunk: Uint8Array): void {
    const backing = chunk.buffer;
    if (!this.#lent.has(backing)) return;
    this.#lent.delete(backing);
    if (this.#free.length < this.#maxFree) this.#free.push(backing as ArrayBuffer);
  }
}

/** Buffers for reading blobs from disk; the HTTP layer releases them once the socket is done. */
export const blobReadBuffers = new BufferPool(1024 * 1024, 32);
