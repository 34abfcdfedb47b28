-- hookrelay schema, version 14: tenant default is the operator's alone.
--
-- hookrelay's notices about every tenant (hookrelay.webhook.disabled,
-- .recovered, .delivery.dead_lettered) are events of tenant default, so a
-- tenant token of default, or a portal session opened with one, read every
-- customer's webhook URLs and failures. Such tokens can no longer be made
-- (POST /tenants/default/tokens and /portal answer 409); the ones made before
-- end here, and the portal sessions opened with them too.

DELETE FROM console_sessions WHERE tenant = 'default';
DELETE FROM tenant_tokens WHERE tenant = 'default';
