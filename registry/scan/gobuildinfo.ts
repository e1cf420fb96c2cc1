/**
 * Go build info, found in a streamed ELF executable without holding it: the linker writes a 32-byte
 * header starting with "\xff Go buildinf:" into .go.buildinfo; since Go 1.18 (flag bit 2) the Go version
 * and the module list follow it inline as varint-length-prefixed strings. Older binaries store pointers
 * instead and are not read.
 */
const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const CAPTURE = 64 * 1024;

export class GoBuildInfoScanner {
  private offset = 0;
  private elf: boolean | null = null;
  private tail = Buffer.alloc(0);
  private captured: Buffer[] | null = null;
  private capturedBytes = 0;

  write(chunk: Buffer): void {
    if (this.elf === null) {
      this.elf = chunk.length >= 4 && chunk[0] === 0x7f && chunk.toString('latin1', 1, 4) === 'ELF';
    }
    if (!this.elf) return;
    if (this.captured) {
      if (this.capturedBytes < CAPTURE) {
        this.captured.push(chunk);
        this.capturedBytes += chunk.length;
      }
      return;
    }
    const buf = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    // The header is 16-byte aligned in the file.
    let at = buf.indexOf(MAGIC);
    while (at >= 0 && (this.offset - this.tail.length + at) % 16 !== 0) at = buf.indexOf(MAGIC, at + 1);
    if (at >= 0) {
      this.captured = [buf.subarray(at)];
      this.capturedBytes = buf.length - at;
      return;
    }
    this.tail = Buffer.from(buf.subarray(Math.max(0, buf.length - (MAGIC.length - 1))));
    this.offset += chunk.length;
  }

  /** The raw module-info text block (`path …\nmod …\ndep …`) prefixed by `go<version>\n`, or null. */
  result(): Buffer | null {
    if (!this.captured) return null;
    const buf = Buffer.concat(this.captured).subarray(0, CAPTURE);
    if (buf.length < 32 || (buf[15] & 2) === 0) return null;
    let pos = 32;
    const readString = (): string | null => {
      let len = 0;
      let shift = 0;
      for (;;) {
        if (pos >= buf.length || shift > 28) return null;
        const b = buf[pos++];
        len |= (b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
      }
      if (pos + len > buf.length) return null;
      const s = buf.toString('utf8', pos, pos + len);
      pos += len;
      return s;
    };
    const version = readString();
    let mod = readString();
    if (!version || mod === null) return null;
    // The module block is framed by 16-byte sentinels.
    if (mod.length >= 33 && mod[mod.length - 17] === '\n') mod = mod.slice(16, -16);
    return Buffer.from(`${version}\n${mod}`);
  }
}

export interface GoModule {
  path: string;
  version: string;
}

/** Modules from build info text: `stdlib` at the toolchain version, the main module and every `dep` (after `=>` replacement). */
export function parseGoBuildInfo(text: string): GoModule[] {
  const lines = text.split('\n');
  const out: GoModule[] = [];
  const goVersion = /^go(\d+(?:\.\d+){0,2})/.exec(lines[0]);
  if (goVersion) out.push({ path: 'stdlib', version: goVersion[1] });
  for (const line of lines.slice(1)) {
    const f = line.split('\t');
    if ((f[0] === 'mod' || f[0] === 'dep') && f[1] && f[2] && f[2] !== '(devel)') out.push({ path: f[1], version: f[2] });
    else if (f[0] === '=>' && f[1] && f[2] && out.length) out[out.length - 1] = { path: f[1], version: f[2] };
  }
  return out;
}
