// A moderator hides (or shows again) a project: it leaves the list, its overlay and its alerts; logged.
import type { Context } from '../context.js';
import { ApiError } from '../wire/errors.js';
import { PROJECT_ID } from './model.js';

export async function hideProject(ctx: Context, id: string, body: Record<string, unknown>, by: string): Promise<{ id: string; hidden: boolean }> {
  if (!PROJECT_ID.test(id)) throw new ApiError('invalid_request', 'not a project id');
  const hidden = body.hidden === undefined ? true : body.hidden;
  if (typeof hidden !== 'boolean') throw new ApiError('invalid_request', '"hidden" must be true or false');
  const meta = await ctx.projects.setHidden(id, hidden);
  if (!meta) throw new ApiError('not_found', `no project ${id}`);
  await ctx.moderation.log.append({ action: hidden ? 'project_hidden' : 'project_shown', by, project: id, name: meta.name });
  return { id, hidden };
}
