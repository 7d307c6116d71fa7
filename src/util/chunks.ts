/** Chunks already in memory as an async iterable, the shape BlobStore.read() returns. */
export async function* chunksOf(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}
