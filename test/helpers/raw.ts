/**
 * HTTP/1.1 over a plain TCP socket, for tests that must control exactly when each byte of a request reaches the
 * server (interleaving two requests on one upload session). One request per connection.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export class RawRequest {
  private readonly socket: net.Socket;
  private readonly chunks: Buffer[] = [];
  private readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d) => this.chunks.push(d));
    this.closed = new Promise((resolve) => {
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
  }

  /** Connect and send the request line and headers (no body yet). */
  static async open(baseUrl: string, method: string, path: string, headers: Record<string, string>): Promise<RawRequest> {
    const url = new URL(baseUrl);
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const r = new RawRequest(socket);
    const lines = [`${method} ${path} HTTP/1.1`, `host: ${url.host}`, 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    await r.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`));
    return r;
  }

  write(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Wait for the whole response (the server closes the connection after it). */
  async response(timeoutMs = 60_000): Promise<RawResponse> {
    const timer = setTimeout(() => this.socket.destroy(new Error('response timeout')), timeoutMs);
    await this.closed;
    clearTimeout(timer);
    const raw = Buffer.concat(this.chunks);
    const end = raw.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`no HTTP response (got ${raw.length} bytes)`);
    const [statusLine, ...headerLines] = raw.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of headerLines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    return { status: Number(statusLine.split(' ')[1]), headers, body: raw.subarray(end + 4) };
  }

  destroy(): void {
    this.socket.destroy();
  }
}
