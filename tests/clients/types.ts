// The TypeScript types openapi-typescript makes of the served document, as a
// user's code meets them. .ci/clients-test puts the generated `hookrelay.d.ts`
// beside this file and runs `tsc --noEmit --strict` on both: the types must
// compile, closed sets must be unions of their values (a wrong value is a
// type error, hence the @ts-expect-error lines), and each page must hold its
// item's own type.
import type { components, operations } from "./hookrelay";

type Schemas = components["schemas"];
type Delivery = Schemas["Delivery"];

const delivered: Delivery["status"] = "success";
// @ts-expect-error: status is a closed set
const misspelt: Delivery["status"] = "succeeded";
const waiting: Delivery["waiting_for"] = "rate_limit";
// @ts-expect-error: so is waiting_for
const unknownReason: Delivery["waiting_for"] = "maintenance";

const page: Schemas["DeliveryPage"] = { data: [], next_cursor: null };
const item: Delivery | undefined = page.data[0];

type ListDeliveries = operations["list_deliveries"];
const filter: NonNullable<ListDeliveries["parameters"]["query"]> = { status: "failed", limit: 10 };
type Listed = ListDeliveries["responses"][200]["content"]["application/json"];
const listed: Listed = page;

type Created = operations["create_webhook"]["responses"][201]["content"]["application/json"];
const secretOf = (w: Created): string => w.secret;

export { delivered, misspelt, waiting, unknownReason, item, filter, listed, secretOf };
