-- Shelf labels by freshness, counted every 5 minutes by the store console's background loop (its
-- plot of the last 24 hours). Kept two days; an appliance without the console has no rows.
create table label_freshness_samples (
  at timestamptz primary key,
  fresh integer not null check (fresh >= 0),
  stale integer not null check (stale >= 0),
  unknown integer not null check (unknown >= 0)
);
