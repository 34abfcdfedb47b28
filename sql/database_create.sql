-- name: DatabaseCreate
-- Start-up on the managed local cluster, the first time.
CREATE DATABASE hookrelay;
