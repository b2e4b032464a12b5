-- `devices disable ID` may run in another process (the CLI, psql) while the device is connected:
-- the appliance LISTENs here and ends the session of every online device now disabled. The
-- payload is only a hint (the device id); the listener re-reads `devices` itself.
create function device_disabled_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('device_disabled', left(new.equip_id, 1000));
  return null;
end $$;

create trigger device_disabled after update of enabled on devices for each row
  when (old.enabled and not new.enabled) execute function device_disabled_notify();
