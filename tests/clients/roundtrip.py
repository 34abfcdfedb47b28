"""A user's first hour with the generated Python client, against a live hookrelay.

.ci/clients-test generates the client from the document the server serves
(openapi-python-client) and runs this with it on the import path. Everything
goes through the generated code (its functions, models and enums), so a
document that generates but misdescribes an answer fails here: a model that
cannot parse what was served raises, and a wrong status parses as None.

The receiver runs here on 127.0.0.1 (hookrelay runs with
HOOKRELAY_ALLOW_PRIVATE_TARGETS=true) and checks each delivery's signature
with `standardwebhooks`, the Standard Webhooks reference library, as a
receiver in the wild would.

Usage: roundtrip.py BASE_URL TOKEN   (the client package `hookrelay_client` importable)
"""

import http.server
import queue
import sys
import threading
import time
import uuid

from standardwebhooks.webhooks import Webhook as Verifier

from hookrelay_client import AuthenticatedClient
from hookrelay_client.api.deliveries import get_delivery, list_deliveries, retry_delivery
from hookrelay_client.api.events import emit_event, list_event_deliveries
from hookrelay_client.api.tenants import put_tenant
from hookrelay_client.api.webhooks import create_webhook
from hookrelay_client.models import (
    CreateWebhook,
    Delivery,
    DeliveryPage,
    DeliveryStatus,
    DeliveryWithAttempts,
    EmitEvent,
    Event,
    Metadata,
    Problem,
    PutTenant,
    Tenant,
    WebhookWithSecret,
)

# How long a delivery may take to arrive or finish: generous for a loaded CI
# machine; a working hookrelay takes milliseconds.
DEADLINE_S = 30


def step(what):
    print(f"ok: {what}", flush=True)


def expect(response, status, model):
    """The generated `sync_detailed` answer, checked: this status, parsed as this model."""
    assert response.status_code == status, (
        f"{response.status_code} instead of {status}: {response.content[:500]!r}"
    )
    assert isinstance(response.parsed, model), f"parsed as {type(response.parsed)}: {response.parsed!r}"
    return response.parsed


class Receiver:
    """A webhook receiver on 127.0.0.1: every request, as (headers, body), in a queue."""

    def __init__(self):
        received = self.received = queue.Queue()

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def next(self):
        try:
            return self.received.get(timeout=DEADLINE_S)
        except queue.Empty:
            raise AssertionError(f"the receiver got nothing within {DEADLINE_S}s") from None


def wait_for_status(client, delivery_id, status, attempts):
    """The delivery, once it reaches `status` with `attempts` attempts made."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        d = expect(get_delivery.sync_detailed(delivery_id, client=client), 200, DeliveryWithAttempts)
        if d.status == status and d.attempts == attempts:
            return d
        assert time.monotonic() < deadline, f"still {d.status.value} after {DEADLINE_S}s: {d.to_dict()}"
        time.sleep(0.05)


def main(base_url, token):
    client = AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)
    receiver = Receiver()
    key = f"clients-test-{uuid.uuid4().hex[:12]}"

    tenant = expect(
        put_tenant.sync_detailed(
            key,
            client=client,
            body=PutTenant(name="Clients test", metadata=Metadata.from_dict({"plan": "pro"})),
        ),
        201,
        Tenant,
    )
    assert tenant.key == key and tenant.metadata.to_dict() == {"plan": "pro"}, tenant
    step(f"tenant {key} created")

    webhook = expect(
        create_webhook.sync_detailed(
            client=client,
            body=CreateWebhook(url=receiver.url, event_types=["order.created"], tenant=key),
        ),
        201,
        WebhookWithSecret,
    )
    assert webhook.tenant == key and webhook.secret.startswith("whsec_"), webhook
    step(f"webhook {webhook.id} created")

    payload = {"order_id": 42, "total": "9.99", "note": "héllo"}
    event = expect(
        emit_event.sync_detailed(
            client=client, body=EmitEvent(type_="order.created", payload=payload, tenant=key)
        ),
        201,
        Event,
    )
    assert event.deliveries == 1 and event.payload == payload, event
    step(f"event {event.id} emitted")

    verifier = Verifier(webhook.secret)

    def receive_and_verify():
        headers, body = receiver.next()
        # Raises unless the signature is the secret's over id, timestamp and these bytes.
        verified = verifier.verify(body, headers)
        assert verified == payload, verified
        assert headers["x-webhook-event"] == "order.created", headers
        return uuid.UUID(headers["webhook-id"])

    delivery_id = receive_and_verify()
    step(f"delivery {delivery_id} received, its signature verified by standardwebhooks")

    delivered = wait_for_status(client, delivery_id, DeliveryStatus.SUCCESS, 1)
    assert delivered.webhook_id == webhook.id and delivered.event_id == event.id, delivered
    assert [a.status_code for a in delivered.attempt_log] == [204], delivered.attempt_log
    step("delivery succeeded at the first attempt")

    retried = expect(retry_delivery.sync_detailed(delivery_id, client=client), 202, Delivery)
    assert retried.status in (DeliveryStatus.PENDING, DeliveryStatus.PROCESSING), retried
    assert receive_and_verify() == delivery_id
    wait_for_status(client, delivery_id, DeliveryStatus.SUCCESS, 2)
    step("retried: received again under the same webhook-id, verified, and succeeded")

    page = expect(
        list_deliveries.sync_detailed(
            client=client, tenant=key, webhook_id=webhook.id, status=DeliveryStatus.SUCCESS, limit=10
        ),
        200,
        DeliveryPage,
    )
    assert [d.id for d in page.data] == [delivery_id] and page.next_cursor is None, page
    assert all(isinstance(d, Delivery) for d in page.data)
    by_event = expect(list_event_deliveries.sync_detailed(event.id, client=client), 200, DeliveryPage)
    assert [d.id for d in by_event.data] == [delivery_id], by_event
    step("listed: the delivery, by tenant, webhook, status and event")

    missing = expect(get_delivery.sync_detailed(uuid.uuid4(), client=client), 404, Problem)
    assert missing.status == 404 and missing.detail, missing
    step("an unknown id answers a Problem")

    receiver.server.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:3])
