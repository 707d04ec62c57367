-- wirelog schema, version 2: indexes for `wirelog sessions`.
-- --client HOST without a port: newest sessions of a host without sorting all of them
-- (sessions_by_client puts the port before the start time).
CREATE INDEX sessions_by_client_host ON sessions(client_host, started_us);
