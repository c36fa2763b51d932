// A minimal WebSocket client on a raw TCP socket, for the listener crowds of the benchmarks: it costs a
// fraction of the `ws` package's CPU per frame, so on 2 shared cores more of the box goes to the server.
// It speaks just what the benchmarks need: the upgrade, unmasked server frames, pong, close.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawWsOptions {
  port: number;
  host?: string;
  path?: string;
  /** Source address (127.0.0.x): each one has its own ~28k ephemeral ports. */
  localAddress?: string;
  headers?: Record<string, string>;
  onBinary?: (data: Buffer) => void;
  onText?: (text: string) => void;
  onClose?: (code: number) => void;
}

export class RawWs {
  readonly socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private upgraded = false;
  closed = false;
  readonly opened: Promise<void>;

  constructor(private readonly o: RawWsOptions) {
    this.socket = connect({ port: o.port, host: o.host ?? '127.0.0.1', localAddress: o.localAddress });
    this.socket.setNoDelay(true);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('connect', () => {
        const key = randomBytes(16).toString('base64');
        const extra = Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        this.socket.write(`GET ${o.path ?? '/ws'} HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
      });
      this.socket.on('data', (d: Buffer) => {
        this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
        if (!this.upgraded) {
          const end = this.buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const status = this.buf.toString('latin1', 9, 12);
          if (status !== '101') {
            reject(new Error(`upgrade refused: ${this.buf.toString('latin1', 0, end)}`));
            this.socket.destroy();
            return;
          }
          this.upgraded = true;
          this.buf = this.buf.subarray(end + 4);
          resolve();
        }
        this.parse();
      });
      this.socket.once('error', (err) => {
        if (!this.upgraded) reject(err);
      });
      this.socket.once('close', () => {
        this.closed = true;
        if (!this.upgraded) reject(new Error('closed before the upgrade'));
        this.o.onClose?.(this.closeCode);
      });
    });
  }

  private closeCode = 1006;

  private parse(): void {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const opcode = b[0] & 0x0f;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (b.length < off + len) return;
      const payload = b.subarray(off, off + len);
      this.buf = b.subarray(off + len);
      if (opcode === 2) this.o.onBinary?.(payload);
      else if (opcode === 1) this.o.onText?.(payload.toString('utf8'));
      else if (opcode === 9) this.sendControl(0xa, payload);
      else if (opcode === 8) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.socket.end();
      }
    }
  }

  /** Client frames must be masked; a zero mask keeps the payload as is. */
  private sendControl(opcode: number, payload: Buffer): void {
    const head = Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]);
    this.socket.write(Buffer.concat([head, payload]));
  }

  sendText(text: string): void {
    const payload = Buffer.from(text);
    if (payload.length > 125) throw new Error('sendText: benchmarks only send short messages');
    this.socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
  }

  close(): void {
    if (this.closed) return;
    this.sendControl(0x8, Buffer.from([0x03, 0xe8]));
    this.socket.end();
  }
}
