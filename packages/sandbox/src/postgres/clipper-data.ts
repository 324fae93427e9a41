/**
 * Clipper's data, small but shaped like the real thing (a video-clip platform): users, the clips
 * they upload, and clip views. `clip_views.viewed_at` is what a restore is judged by: the newest
 * view in a restored copy says which point in time it holds.
 */
import type pg from 'pg'

export const CLIPPER_DB = 'clipper'
export const CLIPPER_ROLE = 'clipper'

export const SEED_COUNTS = {users: 500, clips: 2000, views: 5000} as const

/** The schema and the seeded rows (run as the clipper role, in its own database). */
export const CLIPPER_SCHEMA_AND_DATA = `
create table users (
  id bigserial primary key,
  username text not null unique,
  email text not null unique,
  created_at timestamptz not null default now()
);
create table clips (
  id bigserial primary key,
  user_id bigint not null references users(id),
  title text not null,
  game text not null,
  duration_seconds integer not null check (duration_seconds > 0),
  created_at timestamptz not null default now()
);
create table clip_views (
  id bigserial primary key,
  clip_id bigint not null references clips(id),
  viewed_at timestamptz not null default now()
);
create index clip_views_viewed_at on clip_views (viewed_at);
create index clip_views_clip_id on clip_views (clip_id);

insert into users (username, email, created_at)
  select 'streamer' || i, 'streamer' || i || '@example.clpr.tv', now() - (i || ' hours')::interval
  from generate_series(1, ${SEED_COUNTS.users}) i;
insert into clips (user_id, title, game, duration_seconds, created_at)
  select 1 + (i * 7919) % ${SEED_COUNTS.users}, 'Clip #' || i,
         (array['Speedrun', 'Strategy', 'Racing', 'Puzzle', 'Shooter'])[1 + i % 5],
         5 + (i * 31) % 55, now() - ((i % 600) || ' minutes')::interval - interval '1 day'
  from generate_series(1, ${SEED_COUNTS.clips}) i;
-- Past views, all older than the sandbox: every view made while it runs is newer.
insert into clip_views (clip_id, viewed_at)
  select 1 + (i * 104729) % ${SEED_COUNTS.clips}, now() - interval '1 hour' - ((i * 97) % 604800 || ' seconds')::interval
  from generate_series(1, ${SEED_COUNTS.views}) i;
analyze;
`

/** Creates the clipper role and database (as the superuser). */
export async function createRoleAndDatabase(admin: pg.Client, password: string): Promise<void> {
  await admin.query(`create role ${CLIPPER_ROLE} login password ${admin.escapeLiteral(password)}`)
  await admin.query(`create database ${CLIPPER_DB} owner ${CLIPPER_ROLE}`)
}
