/**
 * The client's frame decoder: parses each server→client frame and checks its shape against
 * lib/protocol.ts (op known, every required field present with the right type), so the rest of
 * the client works on typed frames. Hand-written and table-driven rather than a schema library:
 * the browser bundle has a budget (test/packaging.test.ts).
 * @module
 */
import type { ServerFrame } from '../protocol.js';
import { BAD_SERVER_FRAME, ClientError } from './errors.js';

const str = (v: unknown): boolean => typeof v === 'string';
const num = (v: unknown): boolean => typeof v === 'number';
const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** An optional field: absent, or it passes `check`. */
const opt = (v: unknown, check: (v: unknown) => boolean): boolean => v === undefined || check(v);

/**
 * Whether `f` has the shape of its op (docs/protocol.md, lib/protocol.ts): every required field
 * present with the right type, every optional one absent or of the right type. Extra fields are
 * allowed; `data` may be anything.
 */
// biome-ignore lint/suspicious/noExplicitAny: a frame of any op is read field by field, and fits() checks the type of each field it reads
function fits(f: Record<string, any>): boolean {
  switch (f.op as ServerFrame['op']) {
    case 'welcome':
      return (
        num(f.v) &&
        str(f.cid) &&
        num(f.hb) &&
        opt(f.win, num) &&
        opt(f.pr, num) &&
        opt(f.exp, num) &&
        opt(f.subs, Array.isArray)
      );
    case 'ok':
      return num(f.id) && opt(f.res, obj);
    case 'err':
      return opt(f.id, num) && num(f.code) && str(f.msg);
    case 'msg':
      return opt(f.sub, str) && str(f.ch) && num(f.off) && str(f.ep);
    case 'drop':
      return str(f.ch) && num(f.n);
    case 'gap':
      return str(f.ch) && obj(f.position) && num(f.position.offset) && str(f.position.epoch) && str(f.reason);
    case 'join':
    case 'leave':
      return str(f.ch) && obj(f.m) && str(f.m.cid);
    case 'ujoin':
    case 'uleave':
      return str(f.ch) && obj(f.u) && str(f.u.id);
    case 'refresh':
      return num(f.exp);
    case 'end':
      return str(f.ch) && num(f.code) && str(f.msg);
    case 'ping':
      return true;
    default:
      return false;
  }
}

/**
 * Parses one server→client frame. Throws a `ClientError` with code `BAD_SERVER_FRAME` (1002)
 * when it is not a JSON object with a known op whose fields fit it; the message quotes the start
 * of the frame.
 */
export function decodeFrame(text: string): ServerFrame {
  let f: unknown;
  try {
    f = JSON.parse(text);
  } catch {
    // reported below
  }
  if (obj(f) && fits(f)) return f as unknown as ServerFrame;
  throw new ClientError(BAD_SERVER_FRAME, `malformed server frame: ${text.slice(0, 100)}`);
}
