/**
 * The reCAPTCHA siteverify service played by a local HTTP server (Google's service is a cloud service: the
 * one part that cannot run here). It accepts `human` with the right secret; `down` makes it fail.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class SiteVerify {
  readonly calls: Array<Record<string, string>> = [];
  down = false;
  private server!: Server;

  constructor(
    readonly secret: string,
    readonly human: string,
  ) {}

  /** Starts listening; resolves to the URL to set as RECAPTCHA_VERIFY_URL. */
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const form = Object.fromEntries(new URLSearchParams(body));
        this.calls.push(form);
        if (this.down) {
          res.writeHead(500).end('down');
          return;
        }
        const success = req.method === 'POST' && form.secret === this.secret && form.response === this.human;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success, ...(success ? {} : { 'error-codes': ['invalid-input-response'] }) }));
      });
    });
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/recaptcha/api/siteverify`;
  }

  stop(): Promise<void> {
    return new Promise((ok) => this.server.close(() => ok()));
  }
}
