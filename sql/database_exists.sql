-- name: DatabaseExists
-- Start-up on the managed local cluster: does hookrelay's database exist yet?
SELECT 1 FROM pg_database WHERE datname = 'hookrelay';
