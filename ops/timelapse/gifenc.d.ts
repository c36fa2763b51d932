// gifenc 1.0.3 ships no types: the part of its API the timelapse uses.
declare module 'gifenc' {
  export interface GifStream {
    reset(): void;
  }
  export interface GifEncoder {
    writeFrame(index: Uint8Array, width: number, height: number, opts?: { palette?: number[][]; delay?: number; repeat?: number; first?: boolean }): void;
    finish(): void;
    bytesView(): Uint8Array;
    readonly stream: GifStream;
  }
  const gifenc: { GIFEncoder(opts?: { initialCapacity?: number; auto?: boolean }): GifEncoder };
  export default gifenc;
}
