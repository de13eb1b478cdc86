/**
 * The `authorize` hook as the hub runs it: skipped for exact channels whose rule does not ask for
 * it, a throw denies (and is logged); and the validation of server-side reads made `asUser`.
 * @module
 */
import { checkChannel, isPattern } from './channel-name.js';
import { optionError, SwitchyardError } from './errors.js';
import type { HubContext } from './hub-context.js';
import type { AuthorizeRequest } from './options.js';

/** Runs `authorize` for `user`; true when allowed. @internal */
export async function authorizedFor(
  ctx: HubContext,
  action: AuthorizeRequest['action'],
  channel: string,
  user: unknown,
  connectionId: string,
): Promise<boolean> {
  const hook = ctx.userOptions.authorize;
  if (!hook) return true;
  if (!isPattern(channel) && !ctx.rules.for(channel).authorize) return true;
  try {
    return (await hook({ action, channel, user, connectionId })) === true;
  } catch (err) {
    ctx.log('warn', { err, action, channel }, 'authorize hook threw; denied');
    return false;
  }
}

/** Validates a server-side read and, when it is made `asUser`, authorizes it for that user. @internal */
export async function checkServerRead(
  ctx: HubContext,
  action: 'history' | 'presence',
  channel: string,
  query: { asUser?: unknown },
  shape: string,
): Promise<void> {
  const err = checkChannel(channel, false, ctx.options.limits.maxChannelBytes);
  if (err) throw new SwitchyardError('BAD_CHANNEL', err);
  if (typeof query !== 'object' || query === null) throw optionError(`${action} query`, shape, query);
  if ('asUser' in query && !(await authorizedFor(ctx, action, channel, query.asUser, 'server'))) {
    throw new SwitchyardError('FORBIDDEN', `${action} of ${channel} denied`);
  }
}
