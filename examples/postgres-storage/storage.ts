/**
 * A complete switchyard Storage on PostgreSQL: the model for writing your own adapter.
 * docs/storage-adapters.md walks through it; test/conformance/postgres.test.ts runs the
 * exported conformance suite against it.
 *
 * Design in one paragraph: each channel has a row in `streams` holding its epoch and last
 * offset. An append locks that row (`SELECT … FOR UPDATE`), so appends to one channel are
 * serialized by PostgreSQL itself no matter how many nodes write; the offset comes from
 * `UPDATE … RETURNING last_offset + 1`. Messages live in `messages (channel, off)`; trimming
 * deletes a prefix by offset, so what is kept is always one contiguous range. Idempotency keys
 * live in `idempotency` with an expiry time and are checked under the same lock. The epoch served
 * includes the incarnation of the data (see `incarnation()`), so restoring an old backup changes
 * every epoch instead of handing out offsets a second time.
 */
// In your application: `import type { Storage, … } from 'switchyardjs';`
import type { AppendOptions, AppendResult, ReadResult, Storage, StreamState } from '../../lib/engine.js';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';

/** Options of {@link PostgresStorage}. */
export interface PostgresStorageOptions {
  /** A pg Pool to use (not closed by the storage). Or give `connectionString`. */
  pool?: pg.Pool;
  /** Used to create a pool (closed by `close()`) when `pool` is not given. */
  connectionString?: string;
  /** Schema holding the tables (default `switchyard`); create it with {@link migrate}. */
  schema?: string;
  /** De-duplication window of idempotency keys, ms (default 120,000). */
  dedupWindow?: number;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
/** How long a storage instance trusts the incarnation it read (see `incarnation()`). */
const INCARNATION_TTL_MS = 1_000;

function schemaName(schema: string): string {
  // Identifiers cannot be bound as parameters; accept only plain names so nothing is injected.
  if (!IDENT.test(schema)) throw new Error(`schema must match ${IDENT} (got ${JSON.stringify(schema)})`);
  return schema;
}

/** Creates the schema and tables (idempotent). Run it once at deploy time, not from every node at once. */
export async function migrate(pool: pg.Pool, schema = 'switchyard'): Promise<void> {
  const s = schemaName(schema);
  await pool.query(`
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.streams (
      channel     text PRIMARY KEY,
      epoch       text   NOT NULL,
      last_offset bigint NOT NULL,
      ttl_ms      bigint
    );
    CREATE TABLE IF NOT EXISTS ${s}.messages (
      channel    text        NOT NULL,
      off        bigint      NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      payload    text        NOT NULL,
      PRIMARY KEY (channel, off)
    );
    -- One row whose system column xmin names this copy of the data: a restore re-inserts it
    -- (new xmin), so every epoch served changes with it. Never update it.
    CREATE TABLE IF NOT EXISTS ${s}.incarnation (
      one        boolean     PRIMARY KEY DEFAULT true CHECK (one),
      created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    INSERT INTO ${s}.incarnation DEFAULT VALUES ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS ${s}.idempotency (
      channel    text        NOT NULL,
      key        text        NOT NULL,
      off        bigint      NOT NULL,
      epoch      text        NOT NULL,
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (channel, key)
    );`);
}

/** {@link Storage} on PostgreSQL. */
export class PostgresStorage implements Storage {
  private readonly pool: pg.Pool;
  private readonly ownPool: boolean;
  private readonly s: string;
  private readonly dedupWindow: number;
  private incarnationCache: { id: Promise<string>; at: number } | undefined;

  constructor(options: PostgresStorageOptions) {
    this.s = schemaName(options.schema ?? 'switchyard');
    this.dedupWindow = options.dedupWindow ?? 120_000;
    this.ownPool = !options.pool;
    // While PostgreSQL is down a new connection is refused at once, so calls fail promptly
    // (the hub answers publishers 201 ENGINE_UNAVAILABLE). The timeout only bounds a host that
    // does not answer at all; pg-pool also applies it to waiting for a free connection, so it
    // must stay well above the time a burst of appends queues for the pool (the conformance
    // suite's 2,000 concurrent appends queued for over 30 s on a loaded 2-core machine).
    this.pool =
      options.pool ??
      new pg.Pool({ connectionString: options.connectionString, connectionTimeoutMillis: 60_000, max: 10 });
  }

  /** Runs `fn` in a transaction on one pooled connection. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  /**
   * Names this copy of the data, so a restored backup never serves an old epoch with offsets it
   * already handed out (subscribers would skip the new messages as duplicates: silent loss).
   * It combines the xmin of the `incarnation` row (a logical restore re-inserts it), and, when
   * the role may read them, the cluster's system identifier and timeline (a restore into another
   * cluster, or a point-in-time recovery that promotes a new timeline). Re-read at most once a
   * second per storage instance.
   */
  private incarnation(): Promise<string> {
    const now = performance.now();
    const cached = this.incarnationCache;
    if (cached && now - cached.at < INCARNATION_TTL_MS) return cached.id;
    // One read shared by every caller meanwhile (a burst of appends must not each read it).
    const id = this.readIncarnation();
    this.incarnationCache = { id, at: now };
    id.catch(() => (this.incarnationCache = undefined));
    return id;
  }

  private async readIncarnation(): Promise<string> {
    let { rows } = await this.pool.query(`SELECT xmin::text AS x FROM ${this.s}.incarnation`);
    if (!rows.length) {
      // Restored without it: a new row, hence a new incarnation.
      await this.pool.query(`INSERT INTO ${this.s}.incarnation DEFAULT VALUES ON CONFLICT DO NOTHING`);
      ({ rows } = await this.pool.query(`SELECT xmin::text AS x FROM ${this.s}.incarnation`));
    }
    // A role without pg_monitor cannot read pg_control: the incarnation row alone decides then.
    const cluster = await this.pool
      .query(
        `SELECT (SELECT system_identifier::text FROM pg_control_system()) || ':' || (SELECT timeline_id::text FROM pg_control_checkpoint()) AS id`,
      )
      .then(
        (r) => String(r.rows[0].id),
        () => '',
      );
    return createHash('sha256')
      .update(rows[0].x + '/' + cluster)
      .digest('hex')
      .slice(0, 8);
  }

  /**
   * Locks the channel's stream row, creating it with a fresh epoch if it is missing. A missing
   * row means the stream was lost (or never existed): leftover messages are not trusted. The
   * epoch served is the row's epoch and this copy's incarnation (see `incarnation()`).
   */
  private async lock(
    c: pg.PoolClient,
    channel: string,
    incarnation: string,
  ): Promise<{ epoch: string; last: number; ttl: number | null }> {
    const select = `SELECT epoch, last_offset, ttl_ms FROM ${this.s}.streams WHERE channel = $1 FOR UPDATE`;
    let { rows } = await c.query(select, [channel]);
    if (!rows.length) {
      // ON CONFLICT: another node may be creating the same stream right now; one insert wins.
      const created = await c.query(
        `INSERT INTO ${this.s}.streams (channel, epoch, last_offset) VALUES ($1, $2, 0) ON CONFLICT (channel) DO NOTHING RETURNING epoch`,
        [channel, randomBytes(6).toString('hex')],
      );
      if (created.rowCount) await c.query(`DELETE FROM ${this.s}.messages WHERE channel = $1`, [channel]);
      ({ rows } = await c.query(select, [channel]));
    }
    const epoch = rows[0].epoch + '.' + incarnation;
    return { epoch, last: Number(rows[0].last_offset), ttl: rows[0].ttl_ms === null ? null : Number(rows[0].ttl_ms) };
  }

  /** Deletes what is older than `ttl`, as a prefix by offset (so the kept range stays contiguous). */
  private async trimByAge(c: pg.PoolClient, channel: string, ttl: number | null): Promise<void> {
    if (ttl === null) return;
    await c.query(
      `DELETE FROM ${this.s}.messages WHERE channel = $1 AND off <= (
         SELECT max(off) FROM ${this.s}.messages WHERE channel = $1 AND created_at <= clock_timestamp() - $2 * interval '1 millisecond')`,
      [channel, ttl],
    );
  }

  private async earliest(c: pg.PoolClient, channel: string, last: number): Promise<number> {
    const { rows } = await c.query(`SELECT min(off) AS first FROM ${this.s}.messages WHERE channel = $1`, [channel]);
    return rows[0].first === null ? last + 1 : Number(rows[0].first);
  }

  async append(channel: string, payload: string, options: AppendOptions): Promise<AppendResult> {
    // Read before taking a pooled connection for the transaction: it may need one of its own.
    const incarnation = await this.incarnation();
    return this.tx(async (c) => {
      const stream = await this.lock(c, channel, incarnation);
      const key = options.idempotencyKey;
      if (key !== undefined) {
        const { rows } = await c.query(
          `SELECT off, epoch FROM ${this.s}.idempotency WHERE channel = $1 AND key = $2 AND expires_at > clock_timestamp()`,
          [channel, key],
        );
        // A key from a lost stream's epoch must not point into the new stream.
        if (rows.length && rows[0].epoch === stream.epoch)
          return { offset: Number(rows[0].off), epoch: stream.epoch, duplicate: true };
      }
      const { rows } = await c.query(
        `UPDATE ${this.s}.streams SET last_offset = last_offset + 1, ttl_ms = $2 WHERE channel = $1 RETURNING last_offset`,
        [channel, Math.ceil(options.ttl)],
      );
      const offset = Number(rows[0].last_offset);
      if (options.size > 0) {
        await c.query(`INSERT INTO ${this.s}.messages (channel, off, payload) VALUES ($1, $2, $3)`, [
          channel,
          offset,
          payload,
        ]);
      }
      // Trim by size and by age in one statement: both delete a prefix, so delete the longer one.
      await c.query(
        `DELETE FROM ${this.s}.messages WHERE channel = $1 AND off <= GREATEST($2, (
           SELECT max(off) FROM ${this.s}.messages WHERE channel = $1 AND created_at <= clock_timestamp() - $3 * interval '1 millisecond'))`,
        [channel, offset - Math.max(0, Math.floor(options.size)), Math.ceil(options.ttl)],
      );
      if (key !== undefined) {
        await c.query(`DELETE FROM ${this.s}.idempotency WHERE channel = $1 AND expires_at <= clock_timestamp()`, [
          channel,
        ]);
        await c.query(
          `INSERT INTO ${this.s}.idempotency (channel, key, off, epoch, expires_at) VALUES ($1, $2, $3, $4, clock_timestamp() + $5 * interval '1 millisecond')
           ON CONFLICT (channel, key) DO UPDATE SET off = EXCLUDED.off, epoch = EXCLUDED.epoch, expires_at = EXCLUDED.expires_at`,
          [channel, key, offset, stream.epoch, this.dedupWindow],
        );
      }
      return { offset, epoch: stream.epoch, duplicate: false };
    });
  }

  /** Reads under the stream's lock, so state and messages are one consistent snapshot. */
  async read(channel: string, after: number, limit: number): Promise<ReadResult> {
    const incarnation = await this.incarnation();
    return this.tx(async (c) => {
      const stream = await this.lock(c, channel, incarnation);
      await this.trimByAge(c, channel, stream.ttl);
      const state: StreamState = {
        offset: stream.last,
        epoch: stream.epoch,
        earliest: await this.earliest(c, channel, stream.last),
      };
      if (limit <= 0) return { messages: [], state };
      const { rows } = await c.query(
        `SELECT off, payload FROM ${this.s}.messages WHERE channel = $1 AND off > $2 ORDER BY off LIMIT $3`,
        [channel, after, limit],
      );
      return { messages: rows.map((r) => ({ offset: Number(r.off), payload: r.payload as string })), state };
    });
  }

  async state(channel: string): Promise<StreamState> {
    return (await this.read(channel, 0, 0)).state;
  }

  async close(): Promise<void> {
    if (this.ownPool) await this.pool.end().catch(() => {});
  }
}
