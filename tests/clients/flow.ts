// A frontend's use of the mock: openapi-fetch, typed by openapi-typescript's output (./api.ts).
// tests/test_generated_clients.py checks it with `tsc --strict` against the types generated from
// the spec file and from the served /openapi.json, then runs it with node against a running mock.
import createClient from "openapi-fetch";
import type { paths } from "./api.js";

// No @types/node: the program needs only its arguments and its exit code.
declare const process: { argv: string[]; exitCode?: number };

// node flow.js BASE_URL API_KEY NAMESPACE: the flow's links are alone in NAMESPACE.
const [baseUrl, apiKey, namespace] = process.argv.slice(2);
const client = createClient<paths>({ baseUrl, headers: { "X-API-Key": apiKey } });
const byId = "/workorder-portal-links/{id}";

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`no body: ${what}`);
  return value;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`failed: ${what}`);
}

async function main(): Promise<void> {
  // A minimal create body: every field with a default is left out, and tsc must accept that.
  const created = await client.POST("/workorder-portal-links", {
    body: {
      workorder: "507f1f77bcf86cd799439012",
      link_type: "public",
      company_namespace: [namespace],
      metadata: { source: "flow.ts" },
    },
  });
  check(created.response.status === 201, "create answers 201");
  const link = must(created.data, "create").data;
  // Typed reads: these fail to compile if the generated types made the fields optional.
  const id: string = link._id;
  const linkType: "public" | "private" | "secure" = link.link_type;
  const active: boolean = link.is_active;
  check(linkType === "public" && active, "create keeps link_type and defaults is_active to true");
  check(link.permissions.can_view_details && !link.permissions.can_pay, "nested defaults");
  check(link.expiry_date === null, "expiry_date defaults to null");

  const fetched = must((await client.GET(byId, { params: { path: { id } } })).data, "get");
  check(fetched.data._id === id && fetched.data.access_token === link.access_token, "get");

  const listed = await client.GET("/workorder-portal-links", {
    params: {
      query: { company_namespace: [namespace], link_type: "public", is_active: true },
    },
  });
  const page = must(listed.data, "list");
  check(page.paging.total === 1 && page.data[0]?._id === id, "list filters find the link");

  const updated = await client.PUT(byId, { params: { path: { id } }, body: { link_type: "secure" } });
  check(must(updated.data, "update").data.link_type === "secure", "update changes link_type");

  const regenerated = await client.POST(`${byId}/regenerate`, { params: { path: { id } } });
  const renewed = must(regenerated.data, "regenerate").data;
  check(renewed.access_token !== link.access_token && renewed.url !== link.url, "regenerate");

  const deactivated = await client.POST(`${byId}/deactivate`, { params: { path: { id } } });
  check(must(deactivated.data, "deactivate").data.is_active === false, "deactivate");
  const activated = await client.POST(`${byId}/activate`, { params: { path: { id } } });
  check(must(activated.data, "activate").data.is_active === true, "activate");

  const deleted = await client.DELETE(byId, { params: { path: { id } } });
  check(must(deleted.data, "delete").success === true, "delete");
  const gone = await client.GET(byId, { params: { path: { id } } });
  check(gone.response.status === 404 && gone.error?.error.code === "not_found", "404 after delete");

  const stranger = createClient<paths>({ baseUrl, headers: { "X-API-Key": "not-a-key" } });
  const refused = await stranger.GET("/workorder-portal-links");
  check(refused.response.status === 401 && refused.error?.error.code === "unauthorized", "401");
  console.log("flow ok");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
